//! The proxy's user files: htpasswd (bcrypt, apr1, SHA1, ...) and htdigest. The first
//! byte picks the format (even: htpasswd, odd: htdigest); the rest is the file.
//!
//! Invariants: no panic; every user of a parsed htdigest file has its HA1. Passwords are
//! checked only for files without bcrypt hashes: a `$2y$31$` line costs 2^31 rounds, and
//! the files are the operator's, not the network's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsvia_proxy::users::UserDb;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let db = if kind % 2 == 0 {
        UserDb::parse_htpasswd(text)
    } else {
        UserDb::parse_htdigest(text)
    };
    let db = match db {
        Ok(db) => db,
        Err(e) => {
            let _ = (e.to_string(), e.line());
            return;
        }
    };
    let _ = format!("{db:?}");
    assert_eq!(db.is_empty(), db.len() == 0);
    for line in text.lines() {
        let mut fields = line.split(':');
        let user = fields.next().unwrap_or_default();
        let second = fields.next().unwrap_or_default();
        if kind % 2 == 1 {
            let _ = db.digest_ha1(user, second);
        } else if !text.contains("$2") {
            let _ = db.verify_basic(user, second);
            let _ = db.verify_basic(user, "password");
        }
    }
    let _ = (db.has_basic_users(), db.has_digest_users());
});
