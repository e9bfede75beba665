//! permessage-deflate (RFC 7692) negotiation: the client's offer, the server's choice, the
//! client's check of the answer; no compression happens here.
//!
//! Both sides end with [`DeflateParams`], the parameters in force, which the frame layer
//! (yawc, in `wsvia`) runs with. Window sizes are limited to 9..=15 bits: zlib cannot
//! compress with a 256-byte (8-bit) window, so a server never agrees to
//! `server_max_window_bits=8` and a client refuses an answer that imposes
//! `client_max_window_bits=8`.

use std::fmt;

use crate::challenge::{Parser, is_tchar};

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The smallest LZ77 window (in bits) this side can compress with.
pub const MIN_WINDOW_BITS: u8 = 9;

/// The largest LZ77 window (in bits) RFC 7692 allows: 32 KiB.
pub const MAX_WINDOW_BITS: u8 = 15;

/// What a client offers for permessage-deflate; by default `permessage-deflate;
/// client_max_window_bits`, as browsers send it.
///
/// # Examples
/// ```
/// use wsvia_core::deflate::DeflateOptions;
/// let offer = DeflateOptions::default().no_context_takeover(true);
/// assert_eq!(
///     offer.offer(),
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeflateOptions {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: Option<u8>,
}

impl DeflateOptions {
    /// Ask the server to compress each message on its own (`server_no_context_takeover`):
    /// less memory on both sides, a lower ratio for similar messages.
    ///
    /// # Examples
    /// ```
    /// let o = wsvia_core::deflate::DeflateOptions::default().server_no_context_takeover(true);
    /// assert!(o.offer().contains("; server_no_context_takeover"));
    /// ```
    #[must_use]
    pub fn server_no_context_takeover(mut self, yes: bool) -> Self {
        self.server_no_context_takeover = yes;
        self
    }

    /// Compress each of our messages on its own, and say so (`client_no_context_takeover`).
    ///
    /// # Examples
    /// ```
    /// let o = wsvia_core::deflate::DeflateOptions::default().client_no_context_takeover(true);
    /// assert!(o.offer().contains("; client_no_context_takeover"));
    /// ```
    #[must_use]
    pub fn client_no_context_takeover(mut self, yes: bool) -> Self {
        self.client_no_context_takeover = yes;
        self
    }

    /// Both of the above: no compression context is kept between messages either way.
    ///
    /// # Examples
    /// ```
    /// let o = wsvia_core::deflate::DeflateOptions::default().no_context_takeover(true);
    /// assert!(o.offer().contains("server_no_context_takeover; client_no_context_takeover"));
    /// ```
    #[must_use]
    pub fn no_context_takeover(self, yes: bool) -> Self {
        self.server_no_context_takeover(yes)
            .client_no_context_takeover(yes)
    }

    /// Ask the server to compress with a window of at most `2^bits` bytes
    /// (`server_max_window_bits`); clamped into 9..=15.
    ///
    /// # Examples
    /// ```
    /// let o = wsvia_core::deflate::DeflateOptions::default().server_max_window_bits(10);
    /// assert!(o.offer().contains("; server_max_window_bits=10"));
    /// ```
    #[must_use]
    pub fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = Some(bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS));
        self
    }

    /// Compress with a window of at most `2^bits` bytes and say so
    /// (`client_max_window_bits=N`); clamped into 9..=15. Without it the offer carries a
    /// bare `client_max_window_bits`: the server may pick the size.
    ///
    /// # Examples
    /// ```
    /// let o = wsvia_core::deflate::DeflateOptions::default().client_max_window_bits(12);
    /// assert!(o.offer().ends_with("; client_max_window_bits=12"));
    /// ```
    #[must_use]
    pub fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = Some(bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS));
        self
    }

    /// The `Sec-WebSocket-Extensions` value of the upgrade request.
    ///
    /// # Examples
    /// ```
    /// let o = wsvia_core::deflate::DeflateOptions::default();
    /// assert_eq!(o.offer(), "permessage-deflate; client_max_window_bits");
    /// ```
    pub fn offer(&self) -> String {
        let mut s = String::from(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            s.push_str(&format!("; server_max_window_bits={bits}"));
        }
        match self.client_max_window_bits {
            Some(bits) => s.push_str(&format!("; client_max_window_bits={bits}")),
            None => s.push_str("; client_max_window_bits"),
        }
        s
    }

    /// Check the server's `Sec-WebSocket-Extensions` answer to [`offer`](Self::offer)
    /// (RFC 7692 §7.1) and return the parameters to run with; `None` for no header or
    /// an empty one (the server declined).
    ///
    /// What we offered to do binds us even when the answer leaves it out: a
    /// `client_no_context_takeover` or `client_max_window_bits=N` we offered stays in
    /// force.
    ///
    /// # Errors
    /// [`DeflateError`] when the answer names another extension, repeats one, carries a
    /// parameter that is unknown, malformed or was not offered, or drops one the server
    /// must confirm (`server_no_context_takeover`, `server_max_window_bits`).
    ///
    /// # Examples
    /// ```
    /// use wsvia_core::deflate::DeflateOptions;
    /// let o = DeflateOptions::default();
    /// let p = o.check_answer(Some("permessage-deflate; client_max_window_bits=10")).unwrap().unwrap();
    /// assert_eq!(p.client_max_window_bits, Some(10));
    /// assert!(o.check_answer(Some("x-webkit-deflate-frame")).is_err());
    /// assert_eq!(o.check_answer(None).unwrap(), None);
    /// ```
    pub fn check_answer(
        &self,
        answer: Option<&str>,
    ) -> Result<Option<DeflateParams>, DeflateError> {
        let Some(answer) = answer.filter(|a| !a.trim().is_empty()) else {
            return Ok(None);
        };
        let mut elements = parse(answer)?;
        if elements.len() != 1 {
            return Err(DeflateError::Answer(format!(
                "the server enabled {} extensions; we offered one (permessage-deflate)",
                elements.len()
            )));
        }
        let element = elements.remove(0);
        if !element.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            return Err(DeflateError::Answer(format!(
                "the server enabled {:?}, which we did not offer",
                element.name
            )));
        }
        let got = Params::read(&element)?;
        let bad = |what: String| Err(DeflateError::Answer(what));
        if self.server_no_context_takeover && !got.server_no_context_takeover {
            return bad(
                "the server accepted our offer but not its server_no_context_takeover".into(),
            );
        }
        let server_bits = match (self.server_max_window_bits, got.server_max_window_bits) {
            (_, Some(None)) => {
                return bad("server_max_window_bits needs a value in an answer".into());
            }
            (Some(_), None) => {
                return bad(
                    "the server accepted our offer but not its server_max_window_bits".into(),
                );
            }
            (Some(asked), Some(Some(bits))) if bits > asked => {
                return bad(format!(
                    "the server chose server_max_window_bits={bits}, above the {asked} we asked for"
                ));
            }
            (_, Some(Some(bits))) => Some(bits),
            (None, None) => None,
        };
        let client_bits = match got.client_max_window_bits {
            None => self.client_max_window_bits,
            Some(None) => return bad("client_max_window_bits needs a value in an answer".into()),
            Some(Some(bits)) if bits < MIN_WINDOW_BITS => {
                return Err(DeflateError::Unsupported(format!(
                    "the server asks us to compress with client_max_window_bits={bits}; zlib's smallest window is {MIN_WINDOW_BITS} bits"
                )));
            }
            Some(Some(bits)) => match self.client_max_window_bits {
                Some(offered) if bits > offered => {
                    return bad(format!(
                        "the server chose client_max_window_bits={bits}, above the {offered} we offered"
                    ));
                }
                _ => Some(bits),
            },
        };
        Ok(Some(DeflateParams {
            server_no_context_takeover: got.server_no_context_takeover,
            client_no_context_takeover: got.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        }))
    }
}

/// The permessage-deflate parameters in force on a connection; `Display` writes them as a
/// server's answer (`permessage-deflate; server_no_context_takeover; …`).
///
/// # Examples
/// ```
/// let p = wsvia_core::deflate::DeflateParams {
///     server_no_context_takeover: true,
///     ..Default::default()
/// };
/// assert_eq!(p.to_string(), "permessage-deflate; server_no_context_takeover");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeflateParams {
    /// The server starts every message with an empty compression context.
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty compression context.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window is at most `2^bits` bytes (15 when `None`).
    pub server_max_window_bits: Option<u8>,
    /// The client's LZ77 window is at most `2^bits` bytes (15 when `None`).
    pub client_max_window_bits: Option<u8>,
}

impl fmt::Display for DeflateParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMESSAGE_DEFLATE)?;
        if self.server_no_context_takeover {
            f.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            f.write_str("; client_no_context_takeover")?;
        }
        if let Some(bits) = self.server_max_window_bits {
            write!(f, "; server_max_window_bits={bits}")?;
        }
        if let Some(bits) = self.client_max_window_bits {
            write!(f, "; client_max_window_bits={bits}")?;
        }
        Ok(())
    }
}

/// The server's side: pick the first permessage-deflate offer of the request's
/// `Sec-WebSocket-Extensions` values that it can honour (RFC 7692 §5, §7.1), and return
/// the parameters to answer with; `None` to run without compression.
///
/// Offers with unknown, repeated or malformed parameters are skipped, as is one asking
/// for an 8-bit server window. The answer repeats `server_no_context_takeover` and
/// `server_max_window_bits` when offered and leaves the client's window alone (the
/// server reads with a 32 KiB window, which decodes any smaller one). A header that is
/// not valid `Sec-WebSocket-Extensions` counts as no offer.
///
/// # Examples
/// ```
/// use wsvia_core::deflate::accept_offer;
/// let p = accept_offer(["permessage-deflate; server_max_window_bits=8, permessage-deflate"]).unwrap();
/// assert_eq!(p.to_string(), "permessage-deflate");
/// assert_eq!(accept_offer(["x-webkit-deflate-frame"]), None);
/// ```
pub fn accept_offer<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<DeflateParams> {
    let mut elements = Vec::new();
    for value in values {
        elements.extend(parse(value).ok()?);
    }
    elements
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|e| {
            let offered = Params::read(e).ok()?;
            let server_max_window_bits = match offered.server_max_window_bits {
                None => None,
                Some(None) => return None, // RFC 7692 §7.1.2.1: a value is required
                Some(Some(bits)) if bits < MIN_WINDOW_BITS => return None,
                Some(Some(bits)) => Some(bits),
            };
            Some(DeflateParams {
                server_no_context_takeover: offered.server_no_context_takeover,
                client_no_context_takeover: false,
                server_max_window_bits,
                client_max_window_bits: None,
            })
        })
}

/// A permessage-deflate offer or answer that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateError {
    /// The header is not valid `Sec-WebSocket-Extensions` syntax.
    #[error("malformed Sec-WebSocket-Extensions: {0}")]
    Syntax(String),
    /// A parameter is unknown, repeated, or has a bad value.
    #[error("bad permessage-deflate parameter: {0}")]
    Parameter(String),
    /// The server's answer breaks RFC 7692 for our offer.
    #[error("{0}")]
    Answer(String),
    /// The answer is valid but asks for something this implementation cannot do.
    #[error("{0}")]
    Unsupported(String),
}

/// One element of an extension list: a name and its parameters, values unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    name: String,
    params: Vec<(String, Option<String>)>,
}

/// The four permessage-deflate parameters as written: `Some(None)` for a bare
/// `*_max_window_bits`, `Some(Some(n))` with a value.
#[derive(Debug, Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

impl Params {
    fn read(element: &Element) -> Result<Params, DeflateError> {
        let mut p = Params::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &element.params {
            let lower = name.to_ascii_lowercase();
            if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                return Err(DeflateError::Parameter(format!("{name} appears twice")));
            }
            seen.push(name);
            let bits = |value: &Option<String>| -> Result<Option<u8>, DeflateError> {
                match value {
                    None => Ok(None),
                    Some(v) => match v.parse::<u8>() {
                        // RFC 7692 §7.1.2: 1*DIGIT without leading zero, 8..=15.
                        Ok(n @ 8..=15) if !v.starts_with('0') => Ok(Some(n)),
                        _ => Err(DeflateError::Parameter(format!("{name}={v}"))),
                    },
                }
            };
            match lower.as_str() {
                "server_no_context_takeover" | "client_no_context_takeover" => {
                    if let Some(v) = value {
                        return Err(DeflateError::Parameter(format!(
                            "{name}={v} takes no value"
                        )));
                    }
                    if lower.starts_with("server") {
                        p.server_no_context_takeover = true;
                    } else {
                        p.client_no_context_takeover = true;
                    }
                }
                "server_max_window_bits" => p.server_max_window_bits = Some(bits(value)?),
                "client_max_window_bits" => p.client_max_window_bits = Some(bits(value)?),
                _ => return Err(DeflateError::Parameter(format!("unknown parameter {name}"))),
            }
        }
        Ok(p)
    }
}

/// Parse `1#( token *( ";" token [ "=" ( token | quoted-string ) ] ) )` (RFC 6455 §9.1).
fn parse(value: &str) -> Result<Vec<Element>, DeflateError> {
    let syntax = |what: &str| DeflateError::Syntax(format!("{what} in {value:?}"));
    let mut p = Parser::new(value);
    let token = |p: &mut Parser<'_>| {
        let t = p.take_while(is_tchar);
        (!t.is_empty()).then(|| t.to_owned())
    };
    let mut elements = Vec::new();
    loop {
        // Empty list elements are allowed (RFC 9110 §5.6.1).
        p.skip_list_separators();
        if p.peek().is_none() {
            break;
        }
        let name = token(&mut p).ok_or_else(|| syntax("an extension name is missing"))?;
        let mut params = Vec::new();
        loop {
            p.skip_ows();
            match p.peek() {
                None | Some(b',') => break,
                Some(b';') => p.advance(),
                Some(_) => return Err(syntax("expected ';' or ','")),
            }
            p.skip_ows();
            let key = token(&mut p).ok_or_else(|| syntax("a parameter name is missing"))?;
            p.skip_ows();
            let mut val = None;
            if p.peek() == Some(b'=') {
                p.advance();
                p.skip_ows();
                if p.peek() == Some(b'"') {
                    let s = p
                        .quoted_string()
                        .map_err(|_| syntax("an unterminated quoted string"))?;
                    // RFC 6455 §9.1: a quoted value must still be a token.
                    if s.is_empty() || !s.bytes().all(is_tchar) {
                        return Err(syntax("a quoted value that is not a token"));
                    }
                    val = Some(s);
                } else {
                    val =
                        Some(token(&mut p).ok_or_else(|| syntax("a parameter value is missing"))?);
                }
            }
            params.push((key, val));
        }
        elements.push(Element { name, params });
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_with_quotes_spaces_and_empty_elements() {
        let e =
            parse(r#"permessage-deflate ; client_max_window_bits="10" ,, foo;bar=baz"#).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "permessage-deflate");
        assert_eq!(
            e[0].params,
            [("client_max_window_bits".to_owned(), Some("10".to_owned()))]
        );
        assert_eq!(e[1].params, [("bar".to_owned(), Some("baz".to_owned()))]);
        for bad in [
            "; x",
            "a;",
            "a; =1",
            "a; b=",
            r#"a; b="1"#,
            r#"a; b="1 2""#,
            "a b",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_server_takes_the_first_offer_it_can_honour() {
        // Autobahn 13.7's list: the first offer wants a 9-bit server window.
        let offers = "permessage-deflate; client_no_context_takeover; client_max_window_bits; \
                      server_no_context_takeover; server_max_window_bits=9, \
                      permessage-deflate; client_no_context_takeover; client_max_window_bits; \
                      server_no_context_takeover, \
                      permessage-deflate; client_no_context_takeover; client_max_window_bits";
        let p = accept_offer([offers]).unwrap();
        assert_eq!(
            p.to_string(),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
        );
        // Skipped: 8 bits, a bare server_max_window_bits, unknown or repeated parameters.
        for skipped in [
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; foo",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=09",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
        ] {
            assert_eq!(accept_offer([skipped]), None, "{skipped}");
            let with_fallback = format!("{skipped}, permessage-deflate");
            assert_eq!(
                accept_offer([with_fallback.as_str()]),
                Some(DeflateParams::default()),
                "{skipped}"
            );
        }
        // Several header lines form one list; other extensions are ignored.
        assert_eq!(
            accept_offer(["x-webkit-deflate-frame", "permessage-deflate"]),
            Some(DeflateParams::default())
        );
        assert_eq!(accept_offer(["permessage-deflate; \"bad"]), None);
        assert_eq!(accept_offer([]), None);
    }

    #[test]
    fn the_client_checks_the_answer_against_its_offer() {
        let plain = DeflateOptions::default();
        let ok = |o: &DeflateOptions, a: &str| o.check_answer(Some(a)).unwrap().unwrap();
        assert_eq!(ok(&plain, "permessage-deflate"), DeflateParams::default());
        assert_eq!(
            ok(
                &plain,
                "Permessage-Deflate; server_no_context_takeover; server_max_window_bits=10"
            ),
            DeflateParams {
                server_no_context_takeover: true,
                server_max_window_bits: Some(10),
                ..Default::default()
            }
        );
        assert_eq!(
            ok(&plain, "permessage-deflate; client_max_window_bits=9").client_max_window_bits,
            Some(9)
        );
        assert!(matches!(
            plain.check_answer(Some("permessage-deflate; client_max_window_bits=8")),
            Err(DeflateError::Unsupported(_))
        ));
        for bad in [
            "permessage-deflate, permessage-deflate",
            "x-webkit-deflate-frame",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; mystery",
            "permessage-deflate; server_max_window_bits=7",
        ] {
            assert!(plain.check_answer(Some(bad)).is_err(), "{bad}");
        }

        // What we asked the server for must be confirmed; what we promised stays.
        let strict = DeflateOptions::default()
            .no_context_takeover(true)
            .server_max_window_bits(10)
            .client_max_window_bits(12);
        assert!(
            strict
                .check_answer(Some("permessage-deflate; server_max_window_bits=10"))
                .is_err()
        );
        assert!(
            strict
                .check_answer(Some("permessage-deflate; server_no_context_takeover"))
                .is_err()
        );
        let both = "permessage-deflate; server_no_context_takeover; server_max_window_bits=11";
        assert!(strict.check_answer(Some(both)).is_err(), "11 > 10");
        let both = "permessage-deflate; server_no_context_takeover; server_max_window_bits=9";
        assert_eq!(
            ok(&strict, both),
            DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(9),
                client_max_window_bits: Some(12),
            }
        );
        let over = format!("{both}; client_max_window_bits=13");
        assert!(strict.check_answer(Some(&over)).is_err(), "13 > 12");
        assert_eq!(strict.check_answer(Some(" ")).unwrap(), None);
    }

    #[test]
    fn window_bits_are_clamped_to_what_zlib_does() {
        let o = DeflateOptions::default()
            .client_max_window_bits(8)
            .server_max_window_bits(20);
        assert_eq!(
            o.offer(),
            "permessage-deflate; server_max_window_bits=15; client_max_window_bits=9"
        );
    }
}
