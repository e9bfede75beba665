//! TLS for both hops: to an `https://` proxy and to the server inside the tunnel.
//!
//! Trust comes from webpki's roots plus the system's, plus any CA files the user gives;
//! `insecure` skips certificate checks and is only used when asked for. rustls errors are
//! turned into a [`TlsFailure`] a user can act on. Server-side helpers (`server_config`)
//! for the echo server and the gateway live here too, so PEM loading is written once.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::{Error, TlsFailure};
use crate::stream::Stream;

/// Where trust comes from for one TLS hop.
///
/// # Examples
/// ```
/// let opts = wsvia::tls::TrustOptions { ca_files: vec!["ca.pem".into()], insecure: false };
/// assert!(!opts.insecure);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// Extra PEM files with CA certificates to trust besides webpki's and the system's.
    pub ca_files: Vec<std::path::PathBuf>,
    /// Skip certificate checks entirely (`--insecure`).
    pub insecure: bool,
}

/// The crypto provider used everywhere in wsvia (ring: small and quick to build).
///
/// # Examples
/// ```
/// let p = wsvia::tls::provider();
/// assert!(!p.cipher_suites.is_empty());
/// ```
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Build a client configuration for one hop.
///
/// # Errors
/// [`Error::CaFile`] when a CA file cannot be read or holds no certificate.
///
/// # Examples
/// ```
/// let cfg = wsvia::tls::client_config(&wsvia::tls::TrustOptions::default()).unwrap();
/// assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
/// ```
pub fn client_config(opts: &TrustOptions) -> Result<Arc<ClientConfig>, Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let mut config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(root_store(&opts.ca_files)?)
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Run a TLS client handshake over `stream`, checking the certificate against `host`.
///
/// # Errors
/// The [`TlsFailure`] that explains why the handshake failed.
///
/// # Cancel safety
/// Not cancel safe: a cancelled handshake leaves the stream unusable.
///
/// # Examples
/// ```no_run
/// # async fn f(stream: wsvia::Stream) {
/// let cfg = wsvia::tls::client_config(&Default::default()).unwrap();
/// let tls = wsvia::tls::handshake(stream, "example.com", cfg).await.unwrap();
/// # }
/// ```
pub async fn handshake(
    stream: Stream,
    host: &str,
    config: Arc<ClientConfig>,
) -> Result<Stream, TlsFailure> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| TlsFailure::Handshake(format!("{host:?} is not a valid TLS server name")))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    match connector.connect(name, stream).await {
        Ok(tls) => Ok(Stream::new(tls)),
        Err(e) => Err(classify(&e, host)),
    }
}

/// Load a server configuration from a PEM certificate chain and a PEM private key.
///
/// # Errors
/// [`Error::CaFile`] naming the file that could not be used.
///
/// # Examples
/// ```no_run
/// let cfg = wsvia::tls::server_config("cert.pem".as_ref(), "key.pem".as_ref()).unwrap();
/// ```
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, Error> {
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::CaFile {
        path: key.display().to_string(),
        reason: format!("no usable private key: {e}"),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Error::CaFile {
            path: cert.display().to_string(),
            reason: format!("certificate and key do not fit together: {e}"),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Read every certificate from a PEM file.
///
/// # Errors
/// [`Error::CaFile`] when the file cannot be read or holds no certificate.
///
/// # Examples
/// ```no_run
/// let certs = wsvia::tls::load_certs("ca.pem".as_ref()).unwrap();
/// assert!(!certs.is_empty());
/// ```
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let fail = |reason: String| Error::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

fn root_store(ca_files: &[std::path::PathBuf]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable system certificates are not fatal: webpki's roots and the user's CA remain.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for path in ca_files {
        for cert in load_certs(path)? {
            roots.add(cert).map_err(|e| Error::CaFile {
                path: path.display().to_string(),
                reason: format!("not a usable CA certificate: {e}"),
            })?;
        }
    }
    Ok(roots)
}

/// Turn the I/O error tokio-rustls returns into what the user needs to hear.
fn classify(err: &std::io::Error, host: &str) -> TlsFailure {
    let Some(tls) = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    else {
        return match err.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                TlsFailure::Handshake("the peer closed the connection during the handshake".into())
            }
            _ => TlsFailure::Handshake(err.to_string()),
        };
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsFailure::UnknownIssuer,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::NameMismatch {
                    expected: host.to_owned(),
                }
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            CertificateError::Revoked => TlsFailure::Revoked,
            other => TlsFailure::BadCertificate(other.to_string()),
        },
        other => TlsFailure::Handshake(other.to_string()),
    }
}

/// Accepts any certificate; still checks that handshake signatures are well-formed.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
