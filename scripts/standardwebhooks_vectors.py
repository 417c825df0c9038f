#!/usr/bin/env python3
"""Signs and verifies Standard Webhooks messages with the reference `standardwebhooks`
package, for tests/python_standardwebhooks.rs.

Messages travel one per line as tab-separated fields:
    secret, message id, unix timestamp, base64(UTF-8 payload), webhook-signature

    sign COUNT SEED NOW   print COUNT messages signed at NOW +/- 4 minutes
    sign-stdin            sign each line's first four fields, print the signature
    verify                verify each line read, print "ok" or "refused: <why>"
"""

import base64
import random
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# Characters that payloads are drawn from: JSON punctuation, escapes, whitespace and
# multi-byte UTF-8, including a 4-byte emoji.
ALPHABET = 'ab{}[]":,. \\\n\t\u00e9\u20ac\u2603\U0001F600'


def at(unix_seconds):
    return datetime.fromtimestamp(int(unix_seconds), tz=timezone.utc)


def sign(count, seed, now):
    rng = random.Random(seed)
    for _ in range(count):
        key = bytes(rng.getrandbits(8) for _ in range(rng.choice([16, 24, 32, 64])))
        secret = "whsec_" + base64.b64encode(key).decode()
        msg_id = "msg_%016x" % rng.getrandbits(64)
        timestamp = now + rng.randint(-240, 240)
        payload = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 300)))
        signature = Webhook(secret).sign(msg_id, at(timestamp), payload)
        encoded = base64.b64encode(payload.encode()).decode()
        print("\t".join([secret, msg_id, str(timestamp), encoded, signature]))


def sign_stdin():
    for line in sys.stdin:
        secret, msg_id, timestamp, encoded = line.rstrip("\n").split("\t")[:4]
        payload = base64.b64decode(encoded).decode()
        print(Webhook(secret).sign(msg_id, at(timestamp), payload))


def verify():
    for line in sys.stdin:
        secret, msg_id, timestamp, encoded, signature = line.rstrip("\n").split("\t")
        payload = base64.b64decode(encoded).decode()
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature,
        }
        try:
            Webhook(secret).verify(payload, headers, json_parse=False)
            print("ok")
        except WebhookVerificationError as refused:
            print("refused: %s" % refused)


def main(args):
    if args[:1] == ["sign"] and len(args) == 4:
        sign(int(args[1]), int(args[2]), int(args[3]))
    elif args == ["sign-stdin"]:
        sign_stdin()
    elif args == ["verify"]:
        verify()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
