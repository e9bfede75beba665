//! TLS termination with several certificates, each chosen by the client's SNI.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Picks the certificate whose names match the SNI; the first one otherwise.
#[derive(Debug)]
struct BySni {
    certs: Vec<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name();
        name.and_then(|n| {
            self.certs.iter().find(|ck| {
                ck.end_entity_cert()
                    .ok()
                    .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
                    .is_some_and(|ee| {
                        rustls_pki_types::ServerName::try_from(n)
                            .ok()
                            .is_some_and(|sn| ee.verify_is_valid_for_subject_name(&sn).is_ok())
                    })
            })
        })
        .or_else(|| self.certs.first())
        .cloned()
    }
}

/// A server configuration holding every `(cert, key)` pair, selected by SNI.
pub fn sni_server_config(
    pairs: &[(PathBuf, PathBuf)],
) -> Result<Arc<rustls::ServerConfig>, wsvia::Error> {
    let provider: Arc<CryptoProvider> = wsvia::tls::provider();
    let mut certs = Vec::new();
    for (cert, key) in pairs {
        let chain: Vec<CertificateDer<'static>> = wsvia::tls::load_certs(cert)?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| wsvia::Error::CaFile {
            path: key.display().to_string(),
            reason: format!("no usable private key: {e}"),
        })?;
        let signing = provider
            .key_provider
            .load_private_key(key_der)
            .map_err(|e| wsvia::Error::CaFile {
                path: key.display().to_string(),
                reason: e.to_string(),
            })?;
        certs.push(Arc::new(CertifiedKey::new(chain, signing)));
    }
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| wsvia::Error::Io(std::io::Error::other(e)))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(BySni { certs }));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
