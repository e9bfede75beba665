//! A throwaway certificate authority, made per test, and server certificates it signs.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// A CA whose certificate is written to `ca.pem` in its own directory.
pub struct TestCa {
    dir: tempfile::TempDir,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and key, as PEM files.
#[derive(Debug, Clone)]
pub struct ServerCert {
    /// The certificate chain (leaf only; the CA is in `TestCa::ca_pem`).
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

impl TestCa {
    /// Make a new CA.
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "wsvia test CA");
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("self-sign the CA");
        let dir = tempfile::tempdir().expect("temporary directory for the CA");
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).expect("write ca.pem");
        TestCa { dir, issuer }
    }

    /// The CA certificate (PEM) to pass as `--cacert`.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issue a server certificate for `names` (DNS names or IP addresses).
    pub fn server_cert(&self, file_stem: &str, names: &[&str]) -> ServerCert {
        self.issue(file_stem, params_for(names))
    }

    /// Issue a certificate for `names` that expired in 2021.
    pub fn expired_server_cert(&self, file_stem: &str, names: &[&str]) -> ServerCert {
        let mut params = params_for(names);
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        self.issue(file_stem, params)
    }

    fn issue(&self, file_stem: &str, params: CertificateParams) -> ServerCert {
        let key = KeyPair::generate().expect("server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign the server certificate");
        let cert_path = self.dir.path().join(format!("{file_stem}.pem"));
        let key_path = self.dir.path().join(format!("{file_stem}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write the server certificate");
        std::fs::write(&key_path, key.serialize_pem()).expect("write the server key");
        ServerCert {
            cert: cert_path,
            key: key_path,
        }
    }

    /// The directory holding the PEM files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn params_for(names: &[&str]) -> CertificateParams {
    CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .expect("server certificate params")
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}
