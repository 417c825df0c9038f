//! The `[spool]` table: where records Kafka could not take in time are kept, and how
//! much of the disk they may use. Absent: no spool.

use std::path::PathBuf;
use std::time::Duration;

use super::read::{Ctx, Section};
use super::{Config, Spool};

/// The default `spool.segment_bytes` (16 MiB): large enough that rolling is rare,
/// small enough that a forwarded segment frees its space soon.
const DEFAULT_SEGMENT_BYTES: u64 = 16 << 20;

/// The smallest `spool.segment_bytes` (64 KiB).
const MIN_SEGMENT_BYTES: u64 = 64 << 10;

/// The largest `spool.segment_bytes` (1 GiB).
const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// The largest `spool.max_bytes` (1 PiB): a bound on typos, not on disks.
const MAX_SPOOL_BYTES: u64 = 1 << 50;

/// The default `spool.drain_timeout`: what a pod's default grace period leaves.
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest `spool.drain_timeout`: a bound on typos, not on spools.
const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(3600);

/// Room for what a spooled record adds to the largest Kafka record: its id, dedup
/// key, topic and framing.
const ENTRY_OVERHEAD_BYTES: u64 = 4 << 10;

/// Reads `[spool]`; `None` when a key is invalid (the error is recorded).
pub(super) fn read(mut s: Section<'_, '_, '_>) -> Option<Spool> {
    let dir = s.required_string("dir").map(str::to_string);
    if dir.as_deref() == Some("") {
        s.error("dir", "must not be empty");
    }
    let segment_bytes = s.integer(
        "segment_bytes",
        DEFAULT_SEGMENT_BYTES,
        MIN_SEGMENT_BYTES,
        MAX_SEGMENT_BYTES,
    );
    let has_max = s.get("max_bytes").is_some();
    if !has_max {
        s.error(
            "max_bytes",
            "is required: the bytes of disk the spool may use",
        );
    }
    let max_bytes = s.integer("max_bytes", 0, 1, MAX_SPOOL_BYTES);
    let drain_timeout = s.duration("drain_timeout", DEFAULT_DRAIN_TIMEOUT);
    if drain_timeout > MAX_DRAIN_TIMEOUT {
        s.error("drain_timeout", "must be at most 1h");
    }
    let base_dir = s.ctx.base_dir().to_path_buf();
    s.finish();
    let dir = dir.filter(|d| !d.is_empty())?;
    // 0 is the fallback of a missing or invalid `max_bytes`, already reported.
    if max_bytes == 0 {
        return None;
    }
    Some(Spool {
        dir: base_dir.join(PathBuf::from(dir)),
        max_bytes,
        segment_bytes,
        drain_timeout: drain_timeout.min(MAX_DRAIN_TIMEOUT),
    })
}

/// `spool.max_bytes` must hold two segments (one being forwarded, one being written)
/// and the largest record.
pub(super) fn cross_check(ctx: &Ctx<'_>, config: &Config) {
    let Some(spool) = &config.spool else {
        return;
    };
    let record = config.kafka.max_record_bytes as u64 + ENTRY_OVERHEAD_BYTES;
    let needed = (2 * spool.segment_bytes).max(record);
    if spool.max_bytes < needed {
        ctx.error(
            "spool.max_bytes",
            format!(
                "must be at least {needed} bytes: two segments of spool.segment_bytes ({}) and at least the largest record ({record} bytes)",
                spool.segment_bytes
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(spool: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "[kafka]\nbrokers = \"localhost:9092\"\n\n{spool}\n\n[[credentials]]\nname = \"engine\"\nscheme = \"token\"\nvalue = \"s3cret\"\n"
        );
        Config::parse(&text, Path::new("/etc/hookbridge"), &|_| None)
            .map_err(|e| e.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn absent_is_off_and_present_is_read_with_its_defaults() {
        assert_eq!(parse("").unwrap().spool, None);
        let spool = parse("[spool]\ndir = \"/var/lib/hookbridge/spool\"\nmax_bytes = 1073741824")
            .unwrap()
            .spool
            .unwrap();
        assert_eq!(spool.dir, Path::new("/var/lib/hookbridge/spool"));
        assert_eq!(spool.max_bytes, 1 << 30);
        assert_eq!(spool.segment_bytes, 16 << 20);
        assert_eq!(spool.drain_timeout, std::time::Duration::from_secs(30));
        let relative =
            parse("[spool]\ndir = \"spool\"\nmax_bytes = 1073741824\nsegment_bytes = 65536\ndrain_timeout = \"2m\"")
                .unwrap()
                .spool
                .unwrap();
        assert_eq!(relative.dir, Path::new("/etc/hookbridge/spool"));
        assert_eq!(relative.segment_bytes, 65536);
        assert_eq!(relative.drain_timeout, std::time::Duration::from_secs(120));
    }

    #[test]
    fn every_key_is_checked_with_its_path() {
        assert_eq!(
            parse("[spool]").unwrap_err(),
            [
                "spool.dir: is required",
                "spool.max_bytes: is required: the bytes of disk the spool may use"
            ]
        );
        let errors =
            parse("[spool]\ndir = \"\"\nmax_bytes = \"1G\"\nsegment_bytes = 1024\ndrain_timeout = \"2h\"\nfsync = false")
                .unwrap_err();
        assert_eq!(
            errors,
            [
                "spool.dir: must not be empty",
                "spool.segment_bytes: must be between 65536 and 1073741824, found 1024",
                "spool.max_bytes: expected an integer, found string",
                "spool.drain_timeout: must be at most 1h",
                "spool.fsync: unknown key"
            ]
        );
    }

    #[test]
    fn max_bytes_holds_two_segments_and_the_largest_record() {
        let errors = parse("[spool]\ndir = \"/s\"\nmax_bytes = 20000000").unwrap_err();
        assert_eq!(
            errors,
            [
                "spool.max_bytes: must be at least 33554432 bytes: two segments of spool.segment_bytes (16777216) and at least the largest record (1598808 bytes)"
            ]
        );
        let errors =
            parse("[spool]\ndir = \"/s\"\nmax_bytes = 1000000\nsegment_bytes = 65536").unwrap_err();
        assert_eq!(
            errors,
            [
                "spool.max_bytes: must be at least 1598808 bytes: two segments of spool.segment_bytes (65536) and at least the largest record (1598808 bytes)"
            ]
        );
        assert!(parse("[spool]\ndir = \"/s\"\nmax_bytes = 1598808\nsegment_bytes = 65536").is_ok());
    }
}
