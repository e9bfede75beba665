//! Proxy users from password files as Apache's tools write them.
//!
//! This module owns [`UserDb`]: reading `htpasswd` files (for `Basic`) and
//! `htdigest` files (for `Digest`), checking a `Basic` password, and handing
//! out the stored HA1 for a `Digest` answer. Reading the files from disk, the
//! `Proxy-Authenticate` challenge and the `Digest` response check itself live
//! elsewhere ([`wsvia_core::digest::DigestResponse::verify`] takes the HA1
//! from [`UserDb::digest_ha1`]).
//!
//! # htpasswd hashes
//!
//! | written by          | looks like                     | accepted |
//! |---------------------|--------------------------------|----------|
//! | `htpasswd -B`       | `$2y$05$` + 53 characters      | yes (also `$2a$`, `$2b$`) |
//! | `htpasswd -m`       | `$apr1$salt$` + 22 characters  | yes |
//! | `htpasswd -s`       | `{SHA}` + base64 of SHA-1      | yes (unsalted: weak) |
//! | `htpasswd -p`       | the password itself            | yes, see below |
//! | `htpasswd -d`       | 13 characters (DES crypt)      | no: error |
//! | `htpasswd -2`/`-5`  | `$5$...` / `$6$...`            | no: error |
//!
//! Anything that is none of the recognised forms is taken as a plain-text
//! password. Apache itself honours plain text only on Windows and NetWare;
//! wsvia accepts it everywhere (use it for tests only). A 13-character
//! plain-text password made only of `./0-9A-Za-z` cannot be told apart from
//! a DES hash and is rejected as one; a plain-text password starting with
//! `$word$` or `{WORD}` is rejected as an unknown scheme.
//!
//! Like Apache, leading and trailing whitespace of a line is ignored, lines
//! starting with `#` and blank lines are skipped, and when a user appears
//! twice the first entry counts.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;

/// Users from `htpasswd` and `htdigest` files.
///
/// The default value has no users. `Debug` shows user names and realms,
/// never hashes.
///
/// # Examples
///
/// ```
/// use wsvia_server::users::UserDb;
///
/// // `htpasswd -nbs alice hunter2`, then `alice:wsvia:correct horse` hashed by htdigest.
/// let basic = UserDb::parse_htpasswd("# proxy users\nalice:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\n")?;
/// let digest = UserDb::parse_htdigest("alice:wsvia:de468421e4edd9840a9756d05bbda3d8\n")?;
/// let users = basic.merge(digest);
/// assert!(users.verify_basic("alice", "hunter2"));
/// assert!(!users.verify_basic("alice", "hunter3"));
/// assert_eq!(users.digest_ha1("alice", "wsvia"), Some("de468421e4edd9840a9756d05bbda3d8"));
/// assert_eq!(users.len(), 2);
/// # Ok::<(), wsvia_server::users::UsersError>(())
/// ```
#[derive(Clone, Default)]
pub struct UserDb {
    /// `htpasswd` users: name to hash.
    basic: HashMap<String, BasicHash>,
    /// `htdigest` users: name to realm to lowercase hex HA1.
    digest: HashMap<String, HashMap<String, String>>,
    /// What an unknown user's password is checked against, as costly as
    /// the costliest hash in `basic`; `None` when `basic` is empty.
    dummy: Option<BasicHash>,
}

impl UserDb {
    /// Reads an `htpasswd` file: `user:hash` lines.
    ///
    /// See the [module docs](self) for the accepted hashes.
    ///
    /// # Errors
    ///
    /// On the first bad line, with its number (from 1):
    /// [`UsersError::Syntax`] for a line that is not `user:hash` (no `:`,
    /// an empty user or hash, more fields, or an `htdigest` line),
    /// [`UsersError::MalformedHash`] for a recognised hash that is broken
    /// (for example a bcrypt cost outside `04`–`31`), and
    /// [`UsersError::UnsupportedHash`] for a scheme wsvia cannot check (DES
    /// crypt, `$5$`, `$6$`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::{UserDb, UsersError};
    ///
    /// // `htpasswd -nbm bob secret`.
    /// let users = UserDb::parse_htpasswd("bob:$apr1$DM7AzLqo$OSPem74jljjVMw88uuvFb1")?;
    /// assert!(users.verify_basic("bob", "secret"));
    ///
    /// let err = UserDb::parse_htpasswd("\nbob:ih1tJX2h3KOrc\n").unwrap_err();
    /// assert_eq!(err.line(), 2);
    /// assert!(err.to_string().contains("htpasswd -B"));
    /// # Ok::<(), UsersError>(())
    /// ```
    pub fn parse_htpasswd(text: &str) -> Result<UserDb, UsersError> {
        const EXPECTED: &str = "user:hash";
        let mut db = UserDb::default();
        for (line, content) in lines(text) {
            let syntax = |problem| UsersError::Syntax {
                line,
                expected: EXPECTED,
                problem,
            };
            let Some((user, hash)) = content.split_once(':') else {
                return Err(syntax("no ':' after the user name"));
            };
            if user.is_empty() {
                return Err(syntax("the user name is empty"));
            }
            if hash.is_empty() {
                return Err(syntax("there is no password hash after ':'"));
            }
            if let Some((_, third)) = hash.split_once(':') {
                return Err(syntax(if is_md5_hex(third) {
                    "this looks like an htdigest line (user:realm:HA1); load the file as a digest file"
                } else {
                    "there are more ':'-separated fields than user and hash"
                }));
            }
            let hash = BasicHash::parse(line, user, hash)?;
            db.basic.entry(user.to_owned()).or_insert(hash);
        }
        db.refresh_dummy();
        Ok(db)
    }

    /// Reads an `htdigest` file: `user:realm:HA1` lines, where HA1 is
    /// `MD5(user ":" realm ":" password)` in hex.
    ///
    /// As the HA1 is MD5, these users can answer a challenge with
    /// `algorithm=MD5` (or `MD5-sess`) only.
    ///
    /// # Errors
    ///
    /// On the first bad line, with its number: [`UsersError::Syntax`] for a
    /// line that is not three `:`-separated fields with a user name, and
    /// [`UsersError::MalformedHash`] when the HA1 is not 32 hex digits.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// let users = UserDb::parse_htdigest("alice:wsvia:DE468421E4EDD9840A9756D05BBDA3D8")?;
    /// assert_eq!(users.digest_ha1("alice", "wsvia"), Some("de468421e4edd9840a9756d05bbda3d8"));
    /// assert_eq!(users.digest_ha1("alice", "other"), None);
    /// assert!(UserDb::parse_htdigest("alice:wsvia").is_err());
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn parse_htdigest(text: &str) -> Result<UserDb, UsersError> {
        const EXPECTED: &str = "user:realm:HA1";
        let mut db = UserDb::default();
        for (line, content) in lines(text) {
            let syntax = |problem| UsersError::Syntax {
                line,
                expected: EXPECTED,
                problem,
            };
            let fields: Vec<&str> = content.split(':').collect();
            let [user, realm, ha1] = fields[..] else {
                return Err(syntax(if fields.len() < 3 {
                    "there are fewer than three ':'-separated fields"
                } else {
                    "there are more than three ':'-separated fields"
                }));
            };
            if user.is_empty() {
                return Err(syntax("the user name is empty"));
            }
            if !is_md5_hex(ha1) {
                return Err(UsersError::MalformedHash {
                    line,
                    user: user.to_owned(),
                    format: "htdigest HA1",
                    problem: "expected 32 hexadecimal digits",
                    fix: "re-create the entry with `htdigest`",
                });
            }
            db.digest
                .entry(user.to_owned())
                .or_default()
                .entry(realm.to_owned())
                .or_insert_with(|| ha1.to_ascii_lowercase());
        }
        Ok(db)
    }

    /// Combines two databases; where both have a user (for `Basic`) or a
    /// user and realm (for `Digest`), `self`'s entry wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// let first = UserDb::parse_htpasswd("alice:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=")?; // hunter2
    /// let second = UserDb::parse_htpasswd("alice:{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=")?; // ""
    /// let users = first.merge(second);
    /// assert!(users.verify_basic("alice", "hunter2"));
    /// assert_eq!(users.len(), 1);
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn merge(mut self, other: UserDb) -> UserDb {
        for (user, hash) in other.basic {
            self.basic.entry(user).or_insert(hash);
        }
        for (user, realms) in other.digest {
            let mine = self.digest.entry(user).or_default();
            for (realm, ha1) in realms {
                mine.entry(realm).or_insert(ha1);
            }
        }
        self.refresh_dummy();
        self
    }

    /// Checks a `Basic` user name and password against the `htpasswd`
    /// entries.
    ///
    /// The derived hash is compared in constant time. An unknown user costs
    /// about as much as the costliest known one (the password is checked
    /// against a dummy hash of that scheme and cost), so timing does not
    /// tell which users exist. (A file mixing schemes still lets timing
    /// tell a cheap-hash user from the others.)
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// // `htpasswd -nbB -C 4 carol pass`.
    /// let users = UserDb::parse_htpasswd(
    ///     "carol:$2y$04$nark4bs0YXi4t8IFsFVby.Yq/.blQPE4Z9h.yCXQprAkQa0WCoVwC",
    /// )?;
    /// assert!(users.verify_basic("carol", "pass"));
    /// assert!(!users.verify_basic("carol", "Pass"));
    /// assert!(!users.verify_basic("dan", "pass"));
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn verify_basic(&self, user: &str, password: &str) -> bool {
        match self.basic.get(user) {
            Some(hash) => hash.verify(password),
            None => {
                if let Some(dummy) = &self.dummy {
                    std::hint::black_box(dummy.verify(password));
                }
                false
            }
        }
    }

    /// The stored HA1 (lowercase hex MD5) for `user` in `realm`, for
    /// [`wsvia_core::digest::DigestResponse::verify`].
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_core::digest::{DigestAlgorithm, ha1};
    /// use wsvia_server::users::UserDb;
    ///
    /// let users = UserDb::parse_htdigest("alice:wsvia:de468421e4edd9840a9756d05bbda3d8")?;
    /// let stored = users.digest_ha1("alice", "wsvia");
    /// assert_eq!(stored, Some(ha1(DigestAlgorithm::Md5, "alice", "wsvia", "correct horse").as_str()));
    /// assert_eq!(users.digest_ha1("Alice", "wsvia"), None);
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn digest_ha1(&self, user: &str, realm: &str) -> Option<&str> {
        self.digest.get(user)?.get(realm).map(String::as_str)
    }

    /// Whether any `htpasswd` user was loaded (so `Basic` can be offered).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// assert!(!UserDb::default().has_basic_users());
    /// assert!(UserDb::parse_htpasswd("u:{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=")?.has_basic_users());
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn has_basic_users(&self) -> bool {
        !self.basic.is_empty()
    }

    /// Whether any `htdigest` user was loaded (so `Digest` can be offered).
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// let users = UserDb::parse_htdigest("u:r:de468421e4edd9840a9756d05bbda3d8")?;
    /// assert!(users.has_digest_users() && !users.has_basic_users());
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn has_digest_users(&self) -> bool {
        !self.digest.is_empty()
    }

    /// The number of entries: `htpasswd` users plus `htdigest` (user,
    /// realm) pairs.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// let users = UserDb::parse_htdigest(
    ///     "u:a:de468421e4edd9840a9756d05bbda3d8\nu:b:de468421e4edd9840a9756d05bbda3d8",
    /// )?;
    /// assert_eq!(users.len(), 2);
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.basic.len() + self.digest.values().map(HashMap::len).sum::<usize>()
    }

    /// Whether there are no users at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// assert!(UserDb::default().is_empty());
    /// assert!(UserDb::parse_htpasswd("# nobody yet\n\n")?.is_empty());
    /// # Ok::<(), wsvia_server::users::UsersError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Picks the dummy hash for unknown users: the costliest scheme present.
    fn refresh_dummy(&mut self) {
        self.dummy = self
            .basic
            .values()
            .max_by_key(|hash| hash.work())
            .map(BasicHash::dummy);
    }
}

impl fmt::Debug for UserDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut basic: Vec<&str> = self.basic.keys().map(String::as_str).collect();
        basic.sort_unstable();
        let mut digest: Vec<(&str, &str)> = self
            .digest
            .iter()
            .flat_map(|(user, realms)| {
                realms
                    .keys()
                    .map(move |realm| (user.as_str(), realm.as_str()))
            })
            .collect();
        digest.sort_unstable();
        f.debug_struct("UserDb")
            .field("basic", &basic)
            .field("digest", &digest)
            .finish_non_exhaustive()
    }
}

/// A bad password file line. Messages name the line (from 1) and what was
/// expected; they never contain a hash or a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// The line does not have the fields of the format.
    #[error("line {line}: {problem}; expected `{expected}`")]
    Syntax {
        /// Line number, from 1.
        line: usize,
        /// The line format: `user:hash` or `user:realm:HA1`.
        expected: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// A hash of a known scheme is broken.
    #[error("line {line}: the {format} hash of user `{user}` is malformed ({problem}); {fix}")]
    MalformedHash {
        /// Line number, from 1.
        line: usize,
        /// The user of that line.
        user: String,
        /// The scheme, e.g. `bcrypt`.
        format: &'static str,
        /// What is wrong.
        problem: &'static str,
        /// How to repair it.
        fix: &'static str,
    },
    /// The hash is of a scheme wsvia does not check.
    #[error(
        "line {line}: user `{user}` has a {format} hash, which wsvia does not support; \
         re-create the entry with `htpasswd -B` (bcrypt)"
    )]
    UnsupportedHash {
        /// Line number, from 1.
        line: usize,
        /// The user of that line.
        user: String,
        /// The scheme, e.g. `SHA-512-crypt ($6$)`.
        format: String,
    },
}

impl UsersError {
    /// The line (from 1) the error is about.
    ///
    /// # Examples
    ///
    /// ```
    /// use wsvia_server::users::UserDb;
    ///
    /// let err = UserDb::parse_htpasswd("# users\n\nnocolon").unwrap_err();
    /// assert_eq!(err.line(), 3);
    /// assert_eq!(err.to_string(), "line 3: no ':' after the user name; expected `user:hash`");
    /// ```
    pub fn line(&self) -> usize {
        match self {
            UsersError::Syntax { line, .. }
            | UsersError::MalformedHash { line, .. }
            | UsersError::UnsupportedHash { line, .. } => *line,
        }
    }
}

/// A checked `htpasswd` hash.
#[derive(Clone)]
enum BasicHash {
    /// The whole `$2y$...` string, already checked to parse.
    Bcrypt { hash: String, cost: u32 },
    /// `$apr1$salt$encoded`.
    Apr1 { salt: String, encoded: String },
    /// `{SHA}`: the SHA-1 digest.
    Sha1([u8; 20]),
    /// Plain text: kept as its SHA-256, so comparing takes the same time
    /// whatever the lengths.
    Plain([u8; 32]),
}

/// An `htpasswd -B -C 4` hash; its cost is replaced for dummy checks.
const DUMMY_BCRYPT: &str = "$2y$04$1YJAr9dcdk7Ii/2mNkss8ehSjABv3Kvj79QuQeGb5XbeMHDExwTbO";
const DUMMY_APR1_SALT: &str = "xr5.C7et";
const DUMMY_APR1: &str = "meruml12n416X5QKChvnO1";

/// The `crypt(3)` base64 alphabet used by bcrypt (in another order),
/// apr1 and DES.
const CRYPT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl BasicHash {
    fn parse(line: usize, user: &str, hash: &str) -> Result<BasicHash, UsersError> {
        let malformed = |format, problem| UsersError::MalformedHash {
            line,
            user: user.to_owned(),
            format,
            problem,
            fix: "re-create the entry with `htpasswd -B`",
        };
        let unsupported = |format: &str| UsersError::UnsupportedHash {
            line,
            user: user.to_owned(),
            format: format.to_owned(),
        };
        let bytes = hash.as_bytes();
        if ["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
            let cost = match bytes.get(4..7) {
                Some([tens @ b'0'..=b'9', ones @ b'0'..=b'9', b'$']) => {
                    u32::from(tens - b'0') * 10 + u32::from(ones - b'0')
                }
                _ => {
                    return Err(malformed(
                        "bcrypt",
                        "expected a two-digit cost and '$' after the prefix",
                    ));
                }
            };
            if !(4..=31).contains(&cost) {
                return Err(malformed("bcrypt", "the cost must be 04 to 31"));
            }
            if bcrypt::HashParts::from_str(hash).is_err() {
                return Err(malformed(
                    "bcrypt",
                    "expected 53 bcrypt base64 characters of salt and hash after the cost",
                ));
            }
            return Ok(BasicHash::Bcrypt {
                hash: hash.to_owned(),
                cost,
            });
        }
        if let Some(rest) = hash.strip_prefix("$apr1$") {
            let Some((salt, encoded)) = rest.split_once('$') else {
                return Err(malformed("apr1", "expected `$apr1$salt$hash`"));
            };
            if salt.is_empty() || salt.len() > 8 {
                return Err(malformed("apr1", "the salt must be 1 to 8 characters"));
            }
            if encoded.len() != 22 || !encoded.bytes().all(|b| CRYPT_ALPHABET.contains(&b)) {
                return Err(malformed(
                    "apr1",
                    "expected 22 characters of ./0-9A-Za-z after the salt",
                ));
            }
            return Ok(BasicHash::Apr1 {
                salt: salt.to_owned(),
                encoded: encoded.to_owned(),
            });
        }
        if let Some(encoded) = hash.strip_prefix("{SHA}") {
            let digest = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|digest| <[u8; 20]>::try_from(digest).ok())
                .ok_or_else(|| malformed("SHA-1", "expected 28 base64 characters after {SHA}"))?;
            return Ok(BasicHash::Sha1(digest));
        }
        if let Some(id) = crypt_scheme(hash) {
            return Err(unsupported(&match id {
                "1" => "MD5-crypt ($1$)".to_owned(),
                "2x" => "bcrypt $2x$ (the buggy variant)".to_owned(),
                "5" => "SHA-256-crypt ($5$)".to_owned(),
                "6" => "SHA-512-crypt ($6$)".to_owned(),
                "y" => "yescrypt ($y$)".to_owned(),
                "gy" => "gost-yescrypt ($gy$)".to_owned(),
                "7" => "scrypt ($7$)".to_owned(),
                id if id.starts_with("argon2") => format!("Argon2 (${id}$)"),
                id => format!("`${id}$` crypt"),
            }));
        }
        if let Some(tag) = ldap_scheme(hash) {
            return Err(unsupported(&format!("{{{tag}}}")));
        }
        if bytes.len() == 13 && bytes.iter().all(|b| CRYPT_ALPHABET.contains(b)) {
            return Err(unsupported("DES crypt (htpasswd -d)"));
        }
        if bytes.len() == 20
            && bytes[0] == b'_'
            && bytes[1..].iter().all(|b| CRYPT_ALPHABET.contains(b))
        {
            return Err(unsupported("extended DES crypt"));
        }
        Ok(BasicHash::Plain(Sha256::digest(hash).into()))
    }

    fn verify(&self, password: &str) -> bool {
        let password = password.as_bytes();
        match self {
            // bcrypt::verify compares the derived hash in constant time
            // (`subtle`); it truncates passwords at 72 bytes, as Apache does.
            BasicHash::Bcrypt { hash, .. } => bcrypt::verify(password, hash).unwrap_or(false),
            BasicHash::Apr1 { salt, encoded } => {
                constant_time_eq(&apr1(password, salt.as_bytes()), encoded.as_bytes())
            }
            BasicHash::Sha1(digest) => constant_time_eq(&Sha1::digest(password), digest),
            BasicHash::Plain(digest) => constant_time_eq(&Sha256::digest(password), digest),
        }
    }

    /// A rough order of verification cost.
    fn work(&self) -> u32 {
        match self {
            BasicHash::Sha1(_) | BasicHash::Plain(_) => 0,
            BasicHash::Apr1 { .. } => 1,
            BasicHash::Bcrypt { cost, .. } => 1 + cost,
        }
    }

    /// A hash of the same scheme and cost that no password matches in
    /// practice.
    fn dummy(&self) -> BasicHash {
        match self {
            BasicHash::Bcrypt { cost, .. } => BasicHash::Bcrypt {
                hash: format!("$2y${cost:02}{}", &DUMMY_BCRYPT[6..]),
                cost: *cost,
            },
            BasicHash::Apr1 { .. } => BasicHash::Apr1 {
                salt: DUMMY_APR1_SALT.to_owned(),
                encoded: DUMMY_APR1.to_owned(),
            },
            BasicHash::Sha1(_) => BasicHash::Sha1([0; 20]),
            BasicHash::Plain(_) => BasicHash::Plain([0; 32]),
        }
    }
}

/// Yields `(line number, trimmed line)` for the lines that are neither
/// blank nor comments; a leading byte order mark is ignored.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(index, content)| (index + 1, content.trim()))
        .filter(|(_, content)| !content.is_empty() && !content.starts_with('#'))
}

fn is_md5_hex(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The id of a `$id$...` modular crypt hash (lowercase letters, digits
/// and `-`), if the hash has that form.
fn crypt_scheme(hash: &str) -> Option<&str> {
    let (id, _) = hash.strip_prefix('$')?.split_once('$')?;
    let valid = !id.is_empty()
        && id.len() <= 16
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then_some(id)
}

/// The tag of a `{TAG}...` (LDAP-style) hash, if the hash has that form.
fn ldap_scheme(hash: &str) -> Option<&str> {
    let (tag, _) = hash.strip_prefix('{')?.split_once('}')?;
    let valid = !tag.is_empty()
        && tag.len() <= 16
        && tag
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    valid.then_some(tag)
}

/// Apache's `$apr1$` hash of `password` with `salt`: the 22 characters
/// after `$apr1$salt$`.
///
/// This is the FreeBSD MD5-crypt construction with the magic `$apr1$`:
/// one MD5 over password, magic and salt, fed with a side digest and bits
/// of the password's length, then 1000 rounds that re-hash the digest mixed
/// with password and salt, and the last digest written in crypt base64,
/// bytes taken in a fixed shuffled order.
fn apr1(password: &[u8], salt: &[u8]) -> [u8; 22] {
    let side = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .chain_update(password)
        .finalize();
    let mut hasher = Md5::new();
    hasher.update(password);
    hasher.update(b"$apr1$");
    hasher.update(salt);
    // As many bytes of the side digest as the password is long, repeated.
    let mut left = password.len();
    while left > 0 {
        let take = left.min(side.len());
        hasher.update(&side[..take]);
        left -= take;
    }
    // One byte per bit of the length, low bit first: a zero byte for a 1 bit,
    // the password's first byte for a 0 bit (the loop only runs when the
    // password is not empty).
    let mut length = password.len();
    while length > 0 {
        if length & 1 == 1 {
            hasher.update([0u8]);
        } else {
            hasher.update(&password[..1]);
        }
        length >>= 1;
    }
    let mut digest: [u8; 16] = hasher.finalize().into();
    for round in 0..1000 {
        let mut hasher = Md5::new();
        if round % 2 == 1 {
            hasher.update(password);
        } else {
            hasher.update(digest);
        }
        if round % 3 != 0 {
            hasher.update(salt);
        }
        if round % 7 != 0 {
            hasher.update(password);
        }
        if round % 2 == 1 {
            hasher.update(digest);
        } else {
            hasher.update(password);
        }
        digest = hasher.finalize().into();
    }
    let mut out = [0u8; 22];
    let groups = [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)];
    for (i, (a, b, c)) in groups.into_iter().enumerate() {
        let value = u32::from(digest[a]) << 16 | u32::from(digest[b]) << 8 | u32::from(digest[c]);
        encode64(value, &mut out[i * 4..i * 4 + 4]);
    }
    encode64(u32::from(digest[11]), &mut out[20..]);
    out
}

/// Writes `value` in crypt base64, six bits per character, low bits first.
fn encode64(mut value: u32, out: &mut [u8]) {
    for slot in out {
        // Masked to 6 bits, so the index is in range.
        *slot = CRYPT_ALPHABET[(value & 0x3f) as usize];
        value >>= 6;
    }
}

/// Compares two byte strings without stopping at the first difference.
///
/// Eight lines rather than the `subtle` crate: the lengths compared here
/// are public (fixed by each hash scheme), and `black_box` keeps the
/// optimizer from turning the fold into an early exit.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use wsvia_core::Credentials;
    use wsvia_core::digest::{
        DigestAlgorithm, DigestChallenge, DigestRequest, DigestResponse, authorization, ha1,
    };

    use super::*;

    /// Lines printed by Apache's `htpasswd -nb...` (apache2-utils 2.4),
    /// with the password each was made from.
    const FIXTURES: &[(&str, &str)] = &[
        // -B (default cost 5), -B -C 4
        (
            "alice:$2y$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
            "correct horse",
        ),
        (
            "bob:$2y$04$v7jMACpj0BighDoMZkT8MOsR9XWpV/5bponYMMRj.u4eCoeuXdZf2",
            "pw:with colon",
        ),
        (
            "u1:$2y$04$zm9jEj6POSt0q4TStGnur.x540H8uDdKcNpRnw0xc7nx6oPjR9BDa",
            "пароль",
        ),
        (
            "u2:$2y$04$.Ou/EgXt/Qi2BHiNIzp8XO0DON6JUYmQ0UebnhQyb0lhpSGAwVQSC",
            "",
        ),
        // -m
        ("carol:$apr1$1L1b5QPr$z1g1tQzEFWuSdKxSUfK0l.", "sécret"),
        ("u3:$apr1$HyJAcBvu$.lrRWFhqa5uXPSfd4S5P81", ""),
        ("u4:$apr1$au0VKB2F$o.gRcb2oETG2XsSH4GiLU.", "a"),
        (
            "u5:$apr1$/qZe6kQJ$bw/kBY3.NJ3A1OXhXKXRC.",
            "0123456789abcdef",
        ),
        (
            "u6:$apr1$jgipwoPz$fuCzbjtBT6HfIK4RIWAAB.",
            "0123456789abcdefg",
        ),
        (
            "u7:$apr1$yBPkD5N2$7O/teAhzLUf0nbvdiGxAs/",
            "пароль-ünïcødé-пароль-ünïcødé",
        ),
        // -s
        ("dave:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=", "hunter2"),
        ("u8:{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=", ""),
        ("u9:{SHA}VnC0NYrih/6OdML/b2KT+QVAkHc=", "пароль"),
        // -p
        ("erin:plain pw", "plain pw"),
    ];

    /// Runs Apache's `htpasswd` with `args` and returns what it printed.
    fn htpasswd(args: &[&str]) -> String {
        let output = match Command::new("htpasswd").args(args).output() {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                panic!(
                    "`htpasswd` not found: install apache2-utils (apt-get install apache2-utils)"
                )
            }
            Err(e) => panic!("running htpasswd: {e}"),
        };
        assert!(
            output.status.success(),
            "htpasswd {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("htpasswd prints UTF-8")
    }

    fn user_of(line: &str) -> &str {
        line.split_once(':').map_or(line, |(user, _)| user)
    }

    #[test]
    fn fixtures_from_htpasswd_verify() {
        let file: String = FIXTURES
            .iter()
            .map(|(line, _)| format!("{line}\n"))
            .collect();
        let db = UserDb::parse_htpasswd(&file).expect("fixtures parse");
        assert_eq!(db.len(), FIXTURES.len());
        for (line, password) in FIXTURES {
            let user = user_of(line);
            assert!(
                db.verify_basic(user, password),
                "{user} with the right password"
            );
            for wrong in ["", "x", "correct horse ", "Hunter2", "plain", "пароль-"] {
                if wrong != *password {
                    assert!(!db.verify_basic(user, wrong), "{user} with {wrong:?}");
                }
            }
        }
        assert!(!db.verify_basic("nobody", "correct horse"));
        assert!(!db.verify_basic("ALICE", "correct horse"));
    }

    #[test]
    fn hashes_made_by_htpasswd_now() {
        // (flags, password): every scheme wsvia accepts, as this machine's
        // Apache writes it.
        let cases = [
            ("-nbB", "pass"),
            ("-nbm", "pass"),
            ("-nbs", "pass"),
            ("-nbp", "pass"),
            ("-nbB", "correct horse battery staple"),
            ("-nbm", "ünïcødé pässwörd, longer than sixteen bytes"),
            ("-nbs", ""),
            ("-nbm", ""),
        ];
        for (flags, password) in cases {
            let out = htpasswd(&[flags, "user", password]);
            let db = UserDb::parse_htpasswd(&out)
                .unwrap_or_else(|e| panic!("htpasswd {flags} output: {e}"));
            assert_eq!(db.len(), 1, "{flags}: {out:?}");
            assert!(db.verify_basic("user", password), "{flags} {password:?}");
            assert!(!db.verify_basic("user", "wrong"), "{flags} wrong password");
            assert!(!db.verify_basic("other", password), "{flags} unknown user");
        }
    }

    #[test]
    fn bcrypt_truncates_at_72_bytes_like_htpasswd() {
        let long = "a".repeat(80);
        let out = htpasswd(&["-nbB", "-C", "4", "user", &long]);
        let db = UserDb::parse_htpasswd(&out).expect("htpasswd -B output parses");
        assert!(db.verify_basic("user", &long));
        assert!(db.verify_basic("user", &format!("{}zzz", "a".repeat(72))));
        assert!(!db.verify_basic("user", &"a".repeat(71)));
    }

    #[test]
    fn unsupported_schemes_from_htpasswd_are_errors() {
        // (flags, format named in the error)
        let cases = [
            ("-nbd", "DES crypt"),
            ("-nb2", "SHA-256-crypt ($5$)"),
            ("-nb5", "SHA-512-crypt ($6$)"),
        ];
        for (flags, format) in cases {
            let out = htpasswd(&[flags, "user", "pass"]);
            let err = UserDb::parse_htpasswd(&format!("# first\n{out}")).expect_err(flags);
            let message = err.to_string();
            assert_eq!(err.line(), 2, "{flags}");
            assert!(message.contains(format), "{flags}: {message}");
            assert!(message.contains("htpasswd -B"), "{flags}: {message}");
            let hash = out
                .trim()
                .split_once(':')
                .map(|(_, h)| h)
                .unwrap_or_default();
            assert!(
                !message.contains(hash),
                "{flags}: the message shows the hash"
            );
        }
    }

    #[test]
    fn htpasswd_line_errors() {
        // (file, line, problem or format in the message)
        let cases: &[(&str, usize, &str)] = &[
            ("nocolon", 1, "no ':' after the user name"),
            (
                "ok:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\n\n# c\nnocolon",
                4,
                "no ':'",
            ),
            (
                ":{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=",
                1,
                "the user name is empty",
            ),
            ("user:", 1, "no password hash"),
            ("user:a:b", 1, "more ':'-separated fields"),
            (
                "alice:wsvia:de468421e4edd9840a9756d05bbda3d8",
                1,
                "looks like an htdigest line",
            ),
            // bcrypt: costs and lengths.
            (
                "u:$2y$99$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
                1,
                "cost must be 04 to 31",
            ),
            (
                "u:$2y$03$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
                1,
                "cost must be 04 to 31",
            ),
            (
                "u:$2y$32$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
                1,
                "cost must be 04 to 31",
            ),
            (
                "u:$2y$xx$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
                1,
                "two-digit cost",
            ),
            (
                "u:$2y$5$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
                1,
                "two-digit cost",
            ),
            ("u:$2y$", 1, "two-digit cost"),
            ("u:$2y$05$", 1, "53 bcrypt base64"),
            (
                "u:$2y$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09m",
                1,
                "53 bcrypt base64",
            ),
            (
                "u:$2y$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mGG",
                1,
                "53 bcrypt base64",
            ),
            (
                "u:$2y$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09m!",
                1,
                "53 bcrypt base64",
            ),
            (
                "u:$2y$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mé",
                1,
                "53 bcrypt base64",
            ),
            (
                "u:$2y$05$éCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09",
                1,
                "53 bcrypt base64",
            ),
            // A non-canonical last salt character (unused low bits set).
            (
                "u:$2y$05$uCHOpzrX50tWhE/LhOsBDfzDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
                1,
                "53 bcrypt base64",
            ),
            (
                "u:$2x$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG",
                1,
                "$2x$",
            ),
            // apr1 and SHA-1.
            ("u:$apr1$", 1, "$apr1$salt$hash"),
            ("u:$apr1$1L1b5QPr", 1, "$apr1$salt$hash"),
            ("u:$apr1$$z1g1tQzEFWuSdKxSUfK0l.", 1, "salt must be 1 to 8"),
            (
                "u:$apr1$123456789$z1g1tQzEFWuSdKxSUfK0l.",
                1,
                "salt must be 1 to 8",
            ),
            ("u:$apr1$1L1b5QPr$z1g1tQzEFWuSdKxSUfK0l", 1, "22 characters"),
            (
                "u:$apr1$1L1b5QPr$z1g1tQzEFWuSdKxSUfK0l!",
                1,
                "22 characters",
            ),
            ("u:{SHA}", 1, "28 base64"),
            ("u:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0", 1, "28 base64"),
            ("u:{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=AAAA", 1, "28 base64"),
            // Other schemes.
            ("u:$1$abc$def", 1, "MD5-crypt ($1$)"),
            ("u:$y$j9T$abc$def", 1, "yescrypt ($y$)"),
            ("u:$argon2id$v=19$m=65536$x$y", 1, "Argon2 ($argon2id$)"),
            ("u:$sha1$1$x$y", 1, "`$sha1$` crypt"),
            ("u:{SSHA}abcdefgh", 1, "{SSHA}"),
            ("u:ih1tJX2h3KOrc", 1, "DES crypt"),
            ("u:_J9..saltabcdefghijk", 1, "extended DES"),
        ];
        for (file, line, needle) in cases {
            let err = UserDb::parse_htpasswd(file).expect_err(file);
            assert_eq!(err.line(), *line, "{file:?}: {err}");
            let message = err.to_string();
            assert!(message.contains(needle), "{file:?}: {message}");
            assert!(message.starts_with(&format!("line {line}: ")), "{message}");
            // Never echo the hash.
            let last_line = file.lines().last().unwrap_or_default();
            let hash = last_line.split_once(':').map_or("", |(_, hash)| hash);
            if hash.len() > 6 {
                assert!(!message.contains(hash), "{file:?}: {message}");
            }
        }
    }

    #[test]
    fn malformed_bcrypt_never_panics() {
        // Byte-level damage to a good hash at every position, plus odd
        // lengths: each must either parse and then fail to verify, or be a
        // clean error, never a panic.
        let good = "$2y$04$v7jMACpj0BighDoMZkT8MOsR9XWpV/5bponYMMRj.u4eCoeuXdZf2";
        let mut damaged = Vec::new();
        for i in 0..good.len() {
            for replacement in ["", "$", "!", "é", "0", "9", "z", "."] {
                let mut hash = good.to_owned();
                hash.replace_range(i..=i, replacement);
                damaged.push(hash);
            }
        }
        for end in 0..good.len() {
            damaged.push(good[..end].to_owned());
        }
        damaged.push(format!("{good}x"));
        for hash in damaged {
            if let Ok(db) = UserDb::parse_htpasswd(&format!("u:{hash}")) {
                // Still a (different) valid bcrypt hash, or not bcrypt at all.
                let _ = db.verify_basic("u", "pw:with colon");
                let _ = db.verify_basic("nobody", "pw:with colon");
            }
        }
    }

    #[test]
    fn file_layout() {
        let file = "\u{feff}# users\r\n\r\n  dave:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=  \r\n\t# indented comment\n\
                    dave:{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=\nerin:plain pw\n";
        let db = UserDb::parse_htpasswd(file).expect("file parses");
        assert_eq!(db.len(), 2);
        // The first entry of a user counts, as in Apache.
        assert!(db.verify_basic("dave", "hunter2"));
        assert!(!db.verify_basic("dave", ""));
        assert!(db.verify_basic("erin", "plain pw"));
        assert!(!db.verify_basic("erin", "plain pw "));
        assert!(UserDb::parse_htpasswd("").expect("empty file").is_empty());
    }

    #[test]
    fn htdigest_lines() {
        // HA1 = `printf 'alice:wsvia:correct horse' | md5sum`, and RFC 2617's
        // example user.
        let file = "# htdigest\nalice:wsvia:de468421e4edd9840a9756d05bbda3d8\n\
                    Mufasa:testrealm@host.com:939E7578ED9E3C518A452ACEE763BCE9\n\
                    alice:other:00000000000000000000000000000000\n";
        let db = UserDb::parse_htdigest(file).expect("htdigest parses");
        let cases = [
            ("alice", "wsvia", Some("de468421e4edd9840a9756d05bbda3d8")),
            (
                "Mufasa",
                "testrealm@host.com",
                Some("939e7578ed9e3c518a452acee763bce9"),
            ),
            ("alice", "other", Some("00000000000000000000000000000000")),
            ("alice", "WSVIA", None),
            ("bob", "wsvia", None),
        ];
        for (user, realm, want) in cases {
            assert_eq!(db.digest_ha1(user, realm), want, "{user}@{realm}");
        }
        assert_eq!(
            db.digest_ha1("alice", "wsvia"),
            Some(ha1(DigestAlgorithm::Md5, "alice", "wsvia", "correct horse").as_str())
        );
        assert_eq!(db.len(), 3);
        assert!(db.has_digest_users() && !db.has_basic_users());
        assert!(!db.verify_basic("alice", "correct horse"));
    }

    #[test]
    fn htdigest_ha1_matches_md5sum() {
        // An independent HA1: coreutils' md5sum over `user:realm:password`.
        let output = Command::new("sh")
            .args([
                "-c",
                "printf '%s' 'bob:proxy realm:s3cr3t pässword' | md5sum",
            ])
            .output()
            .expect("sh and md5sum run");
        let text = String::from_utf8(output.stdout).expect("md5sum prints ASCII");
        let hex = text
            .split_whitespace()
            .next()
            .expect("md5sum prints a digest");
        let db = UserDb::parse_htdigest(&format!("bob:proxy realm:{hex}")).expect("line parses");
        assert_eq!(
            db.digest_ha1("bob", "proxy realm"),
            Some(
                ha1(
                    DigestAlgorithm::Md5,
                    "bob",
                    "proxy realm",
                    "s3cr3t pässword"
                )
                .as_str()
            )
        );
    }

    #[test]
    fn htdigest_line_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("nocolon", 1, "fewer than three"),
            ("alice:wsvia", 1, "fewer than three"),
            (
                "alice:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=",
                1,
                "fewer than three",
            ),
            (
                "\n\nalice:wsvia:de468421e4edd9840a9756d05bbda3d8:x",
                3,
                "more than three",
            ),
            (
                ":wsvia:de468421e4edd9840a9756d05bbda3d8",
                1,
                "the user name is empty",
            ),
            (
                "alice:wsvia:de468421e4edd9840a9756d05bbda3d",
                1,
                "32 hexadecimal digits",
            ),
            (
                "alice:wsvia:de468421e4edd9840a9756d05bbda3dg",
                1,
                "32 hexadecimal digits",
            ),
            ("alice:wsvia:", 1, "32 hexadecimal digits"),
        ];
        for (file, line, needle) in cases {
            let err = UserDb::parse_htdigest(file).expect_err(file);
            assert_eq!(err.line(), *line, "{file:?}");
            let message = err.to_string();
            assert!(message.contains(needle), "{file:?}: {message}");
            assert!(
                message.contains("user:realm:HA1") || message.contains("htdigest"),
                "{message}"
            );
        }
    }

    #[test]
    fn digest_round_trip_through_core() {
        let db = UserDb::parse_htdigest("alice:wsvia:de468421e4edd9840a9756d05bbda3d8")
            .expect("line parses");
        let challenge = DigestChallenge {
            realm: "wsvia".into(),
            nonce: "n0nce".into(),
            opaque: None,
            algorithm: DigestAlgorithm::Md5,
            qop_auth: true,
            userhash: false,
            stale: false,
        };
        let request = DigestRequest {
            method: "CONNECT",
            uri: "example.com:443",
            cnonce: "c1",
            nc: 1,
        };
        for (password, accepted) in [("correct horse", true), ("wrong", false)] {
            let header = authorization(&challenge, &Credentials::new("alice", password), &request);
            let response = DigestResponse::parse(&header).expect("our own header parses");
            let stored = db
                .digest_ha1(&response.username, &response.realm)
                .expect("alice is known");
            assert_eq!(response.verify(stored, "CONNECT"), accepted, "{password}");
        }
    }

    #[test]
    fn merge_keeps_the_first_entry() {
        let first = UserDb::parse_htpasswd("a:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=").expect("parses");
        let second = UserDb::parse_htpasswd(
            "a:{SHA}2jmj7l5rSw0yVb/vlWAYkK/YBwk=\nb:$apr1$1L1b5QPr$z1g1tQzEFWuSdKxSUfK0l.",
        )
        .expect("parses");
        let digest = UserDb::parse_htdigest(
            "a:r:de468421e4edd9840a9756d05bbda3d8\na:s:00000000000000000000000000000000",
        )
        .expect("parses");
        let digest2 =
            UserDb::parse_htdigest("a:r:11111111111111111111111111111111").expect("parses");
        let db = first.merge(second).merge(digest).merge(digest2);
        assert!(db.verify_basic("a", "hunter2"));
        assert!(!db.verify_basic("a", ""));
        assert!(db.verify_basic("b", "sécret"));
        assert_eq!(
            db.digest_ha1("a", "r"),
            Some("de468421e4edd9840a9756d05bbda3d8")
        );
        assert_eq!(db.len(), 4);
        assert!(db.has_basic_users() && db.has_digest_users());
        assert!(matches!(db.dummy, Some(BasicHash::Apr1 { .. })));
    }

    #[test]
    fn unknown_users_cost_like_the_costliest_hash() {
        // (file, expected dummy work)
        let cases = [
            ("a:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=", Some(0)),
            (
                "a:{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=\nb:$apr1$1L1b5QPr$z1g1tQzEFWuSdKxSUfK0l.",
                Some(1),
            ),
            (
                "a:$2y$04$v7jMACpj0BighDoMZkT8MOsR9XWpV/5bponYMMRj.u4eCoeuXdZf2\n\
                 b:$2y$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG\n\
                 c:$apr1$1L1b5QPr$z1g1tQzEFWuSdKxSUfK0l.",
                Some(6),
            ),
            ("# empty", None),
        ];
        for (file, work) in cases {
            let db = UserDb::parse_htpasswd(file).expect("parses");
            assert_eq!(db.dummy.as_ref().map(BasicHash::work), work, "{file}");
            // The dummy itself is well-formed for its scheme.
            if let Some(BasicHash::Bcrypt { hash, .. }) = &db.dummy {
                assert!(bcrypt::verify("x", hash).is_ok(), "{hash}");
                assert!(hash.starts_with("$2y$05$"), "{hash}");
            }
            assert!(!db.verify_basic("nobody", "correct horse"));
        }
    }

    #[test]
    fn apr1_of_htpasswd_fixtures() {
        // (salt, password, the 22 characters htpasswd -m wrote)
        let cases = [
            ("1L1b5QPr", "sécret", "z1g1tQzEFWuSdKxSUfK0l."),
            ("HyJAcBvu", "", ".lrRWFhqa5uXPSfd4S5P81"),
            ("au0VKB2F", "a", "o.gRcb2oETG2XsSH4GiLU."),
            ("/qZe6kQJ", "0123456789abcdef", "bw/kBY3.NJ3A1OXhXKXRC."),
            ("jgipwoPz", "0123456789abcdefg", "fuCzbjtBT6HfIK4RIWAAB."),
            ("xr5.C7et", "wsvia-dummy", DUMMY_APR1),
        ];
        for (salt, password, want) in cases {
            let got = apr1(password.as_bytes(), salt.as_bytes());
            assert_eq!(std::str::from_utf8(&got), Ok(want), "{salt} {password:?}");
        }
    }

    #[test]
    fn constant_time_eq_cases() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"", b"", true),
            (b"abc", b"abc", true),
            (b"abc", b"abd", false),
            (b"abc", b"ab", false),
            (b"", b"a", false),
            (&[0xff; 32], &[0xff; 32], true),
            (&[0x00; 32], &[0x80; 32], false),
        ];
        for (a, b, want) in cases {
            assert_eq!(constant_time_eq(a, b), *want, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn debug_shows_no_hashes() {
        let db = UserDb::parse_htpasswd(
            "alice:$2y$05$uCHOpzrX50tWhE/LhOsBDezDz0EwBkJy7BF7IoGENoLsgrmuW09mG\nerin:plain pw",
        )
        .expect("parses")
        .merge(
            UserDb::parse_htdigest("bob:wsvia:de468421e4edd9840a9756d05bbda3d8").expect("parses"),
        );
        let debug = format!("{db:?}");
        assert!(
            debug.contains("alice") && debug.contains("\"bob\", \"wsvia\""),
            "{debug}"
        );
        for secret in ["$2y$", "plain pw", "de4684"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
