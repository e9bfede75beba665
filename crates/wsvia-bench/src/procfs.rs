//! What `/proc` says about processes: resident memory and CPU time of a process and its
//! descendants (nginx workers, squid kids), and raising our own open-file limit.

use std::collections::HashMap;
use std::fs;

/// Linux reports CPU times in `/proc/PID/stat` in units of USER_HZ, 100 on every
/// architecture Linux supports.
const USER_HZ: f64 = 100.0;

/// `pid` and every process below it.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = stat_fields(p).and_then(|f| f.get(1).and_then(|s| s.parse().ok())) {
                children.entry(ppid).or_default().push(p);
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// VmRSS of `pid` and its descendants, in KiB (`None` when `pid` is gone).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let own = vm_rss_kib(pid)?;
    Some(
        own + tree(pid)
            .iter()
            .skip(1)
            .filter_map(|p| vm_rss_kib(*p))
            .sum::<u64>(),
    )
}

/// User + system CPU seconds of `pid` and its descendants (`None` when `pid` is gone).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let own = cpu_of(pid)?;
    Some(
        own + tree(pid)
            .iter()
            .skip(1)
            .filter_map(|p| cpu_of(*p))
            .sum::<f64>(),
    )
}

/// User + system CPU seconds of `pid` alone, without its children (for our own process,
/// whose children are the suite's peers).
pub fn own_cpu_seconds(pid: u32) -> Option<f64> {
    cpu_of(pid)
}

/// Raise the soft open-file limit to the hard one, and the hard one too when we may
/// (root): tens of thousands of sockets need it. Children (the suite's peers) inherit it.
pub fn raise_open_file_limit() -> u64 {
    const WANT: u64 = 1 << 20;
    use rlimit::Resource;
    if let Ok((soft, hard)) = rlimit::getrlimit(Resource::NOFILE)
        && hard < WANT
        && rlimit::setrlimit(Resource::NOFILE, WANT, WANT).is_ok()
    {
        let _ = soft;
        return WANT;
    }
    rlimit::increase_nofile_limit(WANT).unwrap_or(0)
}

/// Fields of `/proc/PID/stat` after the command name: state is \[0\], ppid \[1\],
/// utime \[11\], stime \[12\].
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces and parentheses.
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn cpu_of(pid: u32) -> Option<f64> {
    let f = stat_fields(pid)?;
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_kib() {
        let status = "Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t   12345 kB\nThreads:\t2\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name: kthread\n"), None);
    }

    #[test]
    fn our_own_process_has_memory_and_cpu_time() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 100);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds(me).unwrap() > 0.0);
        assert_eq!(tree(me)[0], me);
        assert!(rss_kib(u32::MAX).is_none());
    }
}
