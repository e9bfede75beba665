//! NTLM proxy authentication (MS-NLMP), as corporate proxies still ask for it: a Negotiate
//! message, the proxy's Challenge on the same connection, our NTLMv2 Authenticate. The
//! messages and the NTLMv2 computation are the `ntlmclient` crate's; this module only
//! speaks them in `Proxy-Authorization` headers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use wsvia_core::Credentials;

/// The workstation name NTLM messages carry.
const WORKSTATION: &str = "WSVIA";

/// The first message: `NTLM <base64 Negotiate>`.
pub(crate) fn negotiate() -> Result<String, String> {
    let message = ntlmclient::Message::Negotiate(ntlmclient::NegotiateMessage {
        flags: negotiate_flags(),
        supplied_domain: String::new(),
        supplied_workstation: WORKSTATION.to_owned(),
        os_version: Default::default(),
    });
    let bytes = message.to_bytes().map_err(|e| format!("{e:?}"))?;
    Ok(format!("NTLM {}", STANDARD.encode(bytes)))
}

/// The answer to the proxy's `NTLM <base64 Challenge>`: `NTLM <base64 Authenticate>`.
/// A user written `DOMAIN\user` carries its domain.
pub(crate) fn authenticate(challenge_b64: &str, creds: &Credentials) -> Result<String, String> {
    let raw = STANDARD
        .decode(challenge_b64.trim())
        .map_err(|_| "the NTLM challenge is not base64".to_owned())?;
    let (server_challenge, target_info) = read_challenge(&raw)?;
    let creds = split_domain(creds);
    let response = ntlmclient::respond_challenge_ntlm_v2(
        server_challenge,
        target_info,
        ntlmclient::get_ntlm_time(),
        &creds,
    );
    let message = response.to_message(&creds, WORKSTATION, authenticate_flags());
    let bytes = message.to_bytes().map_err(|e| format!("{e:?}"))?;
    Ok(format!("NTLM {}", STANDARD.encode(bytes)))
}

/// The server challenge and target information of a Challenge (type 2) message.
///
/// Read leniently: proxies send short challenges (squid's has no target information
/// field), which stricter parsers refuse. Never panics on any input.
fn read_challenge(raw: &[u8]) -> Result<([u8; 8], &[u8]), String> {
    if raw.len() < 32 || &raw[..8] != b"NTLMSSP\0" {
        return Err("the proxy's NTLM challenge is not an NTLMSSP message".into());
    }
    if u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]) != 2 {
        return Err("the proxy sent an NTLM message that is not a challenge".into());
    }
    let mut challenge = [0u8; 8];
    challenge.copy_from_slice(&raw[24..32]);
    // TargetInfoFields (bytes 40..48): length, max length, offset.
    let target_info = raw
        .get(40..48)
        .and_then(|sb| {
            let len = u16::from_le_bytes([sb[0], sb[1]]) as usize;
            let offset = u32::from_le_bytes([sb[4], sb[5], sb[6], sb[7]]) as usize;
            raw.get(offset..offset.checked_add(len)?)
        })
        .unwrap_or(&[]);
    Ok((challenge, target_info))
}

fn negotiate_flags() -> ntlmclient::Flags {
    ntlmclient::Flags::NEGOTIATE_UNICODE
        | ntlmclient::Flags::REQUEST_TARGET
        | ntlmclient::Flags::NEGOTIATE_NTLM
        | ntlmclient::Flags::NEGOTIATE_WORKSTATION_SUPPLIED
}

fn authenticate_flags() -> ntlmclient::Flags {
    ntlmclient::Flags::NEGOTIATE_UNICODE | ntlmclient::Flags::NEGOTIATE_NTLM
}

/// `DOMAIN\user` → domain and user; a plain user has an empty domain.
fn split_domain(creds: &Credentials) -> ntlmclient::Credentials {
    let (domain, user) = creds
        .username
        .split_once('\\')
        .unwrap_or(("", creds.username.as_str()));
    ntlmclient::Credentials {
        username: user.to_owned(),
        password: creds.password.clone(),
        domain: domain.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ntlmv2_key_matches_the_specification() {
        // MS-NLMP 4.2.4.1.1: NTOWFv2("Password", "User", "Domain").
        let creds = split_domain(&Credentials::new("Domain\\User", "Password"));
        assert_eq!(
            (creds.domain.as_str(), creds.username.as_str()),
            ("Domain", "User")
        );
        let key = ntlmclient::ntlm_v2_password_func(&creds);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "0c868a403bfd7a93a3001ef22ef02e3f");
    }

    #[test]
    fn a_negotiate_message_is_an_ntlmssp_type_1() {
        let value = negotiate().unwrap();
        let raw = STANDARD
            .decode(value.strip_prefix("NTLM ").unwrap())
            .unwrap();
        assert_eq!(&raw[..8], b"NTLMSSP\0");
        assert_eq!(u32::from_le_bytes(raw[8..12].try_into().unwrap()), 1);
    }

    #[test]
    fn short_and_odd_challenges_are_read_without_panicking() {
        // squid's ntlm_fake_auth: 40 bytes of header and "WORKGROUP", no target information.
        let squid = STANDARD
            .decode("TlRMTVNTUAACAAAACQAJAK6qqqoFIgAAN81wImAnXCUAAAAAAAA6AFdPUktHUk9VUA==")
            .unwrap();
        let (challenge, info) = read_challenge(&squid).unwrap();
        assert_eq!(challenge, [0x37, 0xcd, 0x70, 0x22, 0x60, 0x27, 0x5c, 0x25]);
        assert!(info.is_empty());
        for len in 0..squid.len() {
            let _ = read_challenge(&squid[..len]);
        }
        let mut bogus = squid.clone();
        bogus.extend_from_slice(&[0xff; 16]);
        let _ = read_challenge(&bogus);
    }

    #[test]
    fn a_challenge_that_is_not_one_is_refused() {
        assert!(authenticate("not base64!", &Credentials::new("u", "p")).is_err());
        let type1 = negotiate().unwrap();
        let err = authenticate(
            type1.strip_prefix("NTLM ").unwrap(),
            &Credentials::new("u", "p"),
        )
        .unwrap_err();
        assert!(err.contains("not a challenge"), "{err}");
    }
}
