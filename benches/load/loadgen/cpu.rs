//! CPU time of processes, from `/proc/<pid>/stat` (Linux only).

/// Microseconds per clock tick of `/proc/<pid>/stat`: `USER_HZ` is 100 in the Linux
/// ABI on every architecture this harness runs on (x86_64, aarch64).
const US_PER_TICK: u64 = 10_000;

/// User + system CPU time, in microseconds, of this process (as `generator`) and of
/// each `(name, pid)`, in that order.
pub fn sample(watched: &[(String, u32)]) -> Result<Vec<(String, u64)>, String> {
    let mut out = vec![("generator".to_string(), cpu_us("self")?)];
    for (name, pid) in watched {
        out.push((name.clone(), cpu_us(&pid.to_string())?));
    }
    Ok(out)
}

/// CPU time of one process, all its threads, in microseconds.
fn cpu_us(pid: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces: the fields
    // after its closing parenthesis start at field 3 (state); utime and stime are
    // fields 14 and 15.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: no command name"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| format!("{path}: field {} is not a number", i + 3))
    };
    Ok((ticks(11)? + ticks(12)?) * US_PER_TICK)
}
