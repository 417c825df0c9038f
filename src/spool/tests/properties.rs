//! Property tests of the log: whatever the record sizes and segment size, and wherever
//! a segment is cut short or has a byte flipped, every record before the damage comes
//! back intact and in order, the records after it in that segment are dropped and
//! counted, and other segments are untouched.

use proptest::prelude::*;
use proptest::sample::Index;

use super::*;

/// What happens to one segment file.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Truncated to this many bytes (a torn write at the end).
    Cut(Index),
    /// One byte inverted (a corrupt sector).
    Flip(Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<Index>().prop_map(Damage::Cut),
        any::<Index>().prop_map(Damage::Flip)
    ]
}

/// One segment as written: its first record, and the end offset of each frame.
struct Written {
    first: u64,
    path: std::path::PathBuf,
    frame_ends: Vec<u64>,
}

fn layout(dir: &Path, entries: &[Entry]) -> Vec<Written> {
    segment::list(dir)
        .unwrap()
        .into_iter()
        .map(|(first, path)| {
            let records = segment::scan(&path).unwrap().records;
            let mut end = format::SEGMENT_HEADER_BYTES;
            let frame_ends = (first..first + records)
                .map(|seq| {
                    let body = format::encode(&entries[seq as usize]).unwrap();
                    end += (format::FRAME_HEADER_BYTES + body.len()) as u64;
                    end
                })
                .collect();
            Written {
                first,
                path,
                frame_ends,
            }
        })
        .collect()
}

/// Applies `damage` to `segment`; returns how many of its records stay and whether
/// bytes that are not a valid frame remain (or the header went).
fn apply(segment: &Written, damage: Damage) -> (usize, bool) {
    let mut bytes = std::fs::read(&segment.path).unwrap();
    let len = bytes.len();
    let (at, damaged) = match damage {
        Damage::Cut(i) => {
            let at = i.index(len);
            bytes.truncate(at);
            (at as u64, true)
        }
        Damage::Flip(i) => {
            let at = i.index(len);
            bytes[at] ^= 0xFF;
            (at as u64, true)
        }
    };
    std::fs::write(&segment.path, &bytes).unwrap();
    if at < format::SEGMENT_HEADER_BYTES {
        return (0, !bytes.is_empty());
    }
    let kept = match damage {
        // A frame survives a cut that ends at or after its end.
        Damage::Cut(_) => segment.frame_ends.iter().filter(|end| **end <= at).count(),
        // A flip spoils the frame it lands in.
        Damage::Flip(_) => segment.frame_ends.iter().filter(|end| **end <= at).count(),
    };
    let clean_cut = matches!(damage, Damage::Cut(_))
        && (at == format::SEGMENT_HEADER_BYTES || segment.frame_ends.contains(&at));
    (kept, damaged && !clean_cut)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn damage_loses_only_what_follows_it_and_is_counted(
        sizes in proptest::collection::vec(0usize..1500, 1..28),
        segment_bytes in 256u64..6000,
        which in any::<Index>(),
        damage in damage(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = settings(dir.path(), 1 << 30, segment_bytes);
        let entries: Vec<Entry> =
            sizes.iter().enumerate().map(|(n, len)| entry(n as u64, *len, 4)).collect();
        runtime.block_on(async {
            let (spool, _, _) = open(&config);
            for result in append_all(&spool, &entries).await {
                result.unwrap();
            }
        });
        let segments = layout(dir.path(), &entries);
        prop_assert_eq!(segments.iter().map(|s| s.frame_ends.len()).sum::<usize>(), entries.len());

        let hit = which.index(segments.len());
        let (kept, damaged) = apply(&segments[hit], damage);
        let last = hit + 1 == segments.len();
        let lost = segments[hit].frame_ends.len() - kept;
        let expected: Vec<(u64, Entry)> = segments
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let count = if i == hit { kept } else { s.frame_ends.len() };
                (s.first..s.first + count as u64).map(|seq| (seq, entries[seq as usize].clone()))
            })
            .collect();
        let expected_corrupt = match (last, damaged) {
            // Behind the last segment nothing tells how much was lost: one is counted.
            (true, damaged) => u64::from(damaged),
            // Before another segment, the gap in numbering is exact.
            (false, _) => lost as u64,
        };

        let (spool, recovered, metrics) = open(&config);
        prop_assert_eq!(recovered.corrupt_records, expected_corrupt);
        prop_assert_eq!(metrics.spool_corrupt_records.get(), expected_corrupt);
        prop_assert_eq!(recovered.records as usize, expected.len());
        let back = contents(&spool);
        prop_assert_eq!(back, expected);
    }
}
