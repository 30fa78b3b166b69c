//! TLS for `wss://` targets: rustls with the ring provider. By default a connection trusts
//! the system's root certificates (tokio-tungstenite's own connector); `--tls-ca FILE`
//! trusts the PEM certificates of that file instead (a private CA, or a test's own).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_tungstenite::Connector;

/// Root certificates a `wss://` connection trusts, as a ready client configuration.
#[derive(Clone)]
pub struct TlsRoots(Arc<rustls::ClientConfig>);

impl TlsRoots {
    /// Trusts the certificates of the PEM file at `path` (and nothing else).
    pub fn from_pem_file(path: &Path) -> anyhow::Result<TlsRoots> {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        TlsRoots::from_pem(&pem).with_context(|| format!("--tls-ca {}", path.display()))
    }

    /// Trusts the certificates in `pem` (and nothing else).
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<TlsRoots> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.context("reading a PEM certificate")?;
            roots.add(cert).context("adding a root certificate")?;
        }
        if roots.is_empty() {
            bail!("no certificate found (expected PEM: -----BEGIN CERTIFICATE-----)");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsRoots(Arc::new(config)))
    }

    /// The connector for tokio-tungstenite.
    pub fn connector(&self) -> Connector {
        Connector::Rustls(self.0.clone())
    }
}

/// Two values are equal when they are the same configuration (clones of one `--tls-ca`).
impl PartialEq for TlsRoots {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TlsRoots {}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsRoots(--tls-ca)")
    }
}

/// Makes ring the process's rustls provider, for connections that use tokio-tungstenite's
/// default connector (the system's roots). Safe to call more than once.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused() {
        let error = TlsRoots::from_pem(b"not a certificate\n").expect_err("no cert");
        assert!(error.to_string().contains("no certificate"), "{error:#}");
    }
}
