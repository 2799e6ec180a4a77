//! The node's self-signed identity, and pinning it on the client side.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

use super::{ALPN, NetError};

/// A node's certificate and key.
#[derive(Clone)]
pub struct Identity {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl Identity {
    /// A fresh self-signed certificate (ECDSA P-256).
    pub fn generate() -> Result<Identity, NetError> {
        let certified = rcgen::generate_simple_self_signed(vec!["caxton.node".to_string()])
            .map_err(|e| NetError::tls("making a certificate", e))?;
        Ok(Identity {
            cert: certified.cert.der().clone(),
            key: certified.signing_key.serialize_der(),
        })
    }

    /// An identity from DER bytes (as stored by [`Identity::to_der`]).
    pub fn from_der(cert: Vec<u8>, key: Vec<u8>) -> Identity {
        Identity {
            cert: CertificateDer::from(cert),
            key,
        }
    }

    /// The certificate and the PKCS#8 key, DER-encoded.
    pub fn to_der(&self) -> (Vec<u8>, Vec<u8>) {
        (self.cert.to_vec(), self.key.clone())
    }

    /// `sha256:<hex>` of the certificate: what clients pin.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.cert)
    }

    /// The QUIC server configuration.
    pub fn server_config(&self) -> Result<quinn::ServerConfig, NetError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| NetError::tls("TLS 1.3 for the server", e))?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], key)
            .map_err(|e| NetError::tls("the node's certificate", e))?;
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| NetError::tls("QUIC for the server", e))?;
        Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn fingerprint(cert: &[u8]) -> String {
    let digest = Sha256::digest(cert);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A QUIC client configuration that trusts exactly the certificate with
/// this fingerprint.
pub fn client_config(pinned: &str) -> Result<quinn::ClientConfig, NetError> {
    let provider = provider();
    let verifier = Pinned {
        fingerprint: pinned.trim().to_ascii_lowercase(),
        algorithms: provider.signature_verification_algorithms,
    };
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::tls("TLS 1.3 for the client", e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| NetError::tls("QUIC for the client", e))?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    // A node that vanished (SIGKILL, a lost pod) sends no close: without
    // keep-alives its clients and peer links would notice only at QUIC's
    // default idle timeout of 30 s. A ping every 2 s costs a packet each way
    // on an idle connection and lets a dead peer be declared lost in 10 s.
    let mut transport = quinn::TransportConfig::default();
    transport
        .keep_alive_interval(Some(std::time::Duration::from_secs(2)))
        .max_idle_timeout(Some(quinn::VarInt::from_u32(10_000).into()));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// Accepts the server certificate only if its fingerprint is the pinned one
/// (the handshake signature is still verified against that certificate).
#[derive(Debug)]
struct Pinned {
    fingerprint: String,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = fingerprint(end_entity);
        if seen == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate fingerprint mismatch: pinned {}, the node presented {seen}",
                self.fingerprint
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A fresh tenant token: 32 random bytes from the OS, hex-encoded.
pub fn new_token() -> Result<String, NetError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| NetError::tls("randomness for a token", e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
