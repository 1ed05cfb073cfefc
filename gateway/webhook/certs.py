"""The webhook certificates: a self-signed CA, a serving certificate, and when to renew them.

Theory of operation (MetalLB's controller runs cert-controller's rotator; this is its policy,
as a pure function of the Secret's bytes and `now`):

* The Secret holds four PEM entries: `ca.crt` and `ca.key` (the CA), `tls.crt` and `tls.key`
  (the serving certificate and its key). Every other key of the Secret is left alone.
* The CA: RSA 2048, subject CN `cert`, O `metallb`, SAN DNS `cert`, basicConstraints CA,
  keyCertSign; valid from an hour ago (clock skew between nodes) for 10 years.
* The serving certificate: RSA 2048, CN and SAN DNS `<service>.<namespace>.svc`, serverAuth,
  signed by the CA; valid from an hour ago for 1 year.
* `decide()` at each check: when the CA is missing, unreadable, not a self-signed CA for `cert`,
  its key does not match, or it is not valid at `now + lookahead` (90 days), everything is
  regenerated (`RENEW_ALL`: the CA changes, so every caBundle must change too). Otherwise, when
  the serving certificate is missing, unreadable, not issued by that CA, its key does not match,
  it does not name the DNS name, lacks serverAuth or is not valid at `now + lookahead`, only the
  serving certificate is re-issued by the same CA (`RENEW_SERVING`: caBundles stay). Otherwise
  `KEEP` — a Secret that already holds a valid pair is never rewritten.

Deliberate differences from cert-controller, none visible to a client:
* a certificate must also be valid at `now`, not only at `now + lookahead` (cert-controller
  would accept one whose notBefore lies in the future);
* serial numbers are random (cert-controller uses 0 for every CA and 1 for every serving
  certificate; RFC 5280 §4.1.2.2 wants positive numbers unique per CA);
* the certificates carry subject and authority key identifiers, and basicConstraints and
  keyUsage are critical (Go adds the identifiers on its own; Python ≥ 3.13's default TLS
  context rejects chains without them).
Keys are written as PKCS#1 (`RSA PRIVATE KEY`) like cert-controller's, so a MetalLB controller
reading this Secret back (a downgrade) keeps it, or re-issues from our CA. The other way round,
MetalLB's Secret is kept on an upgrade (tested): cryptography warns once about its CA's serial
0 and has announced it will refuse such certificates; from then on the upgrade regenerates the CA.
"""

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
KEYS = (CA_CERT, CA_KEY, TLS_CERT, TLS_KEY)

DAY = datetime.timedelta(days=1)
CA_VALIDITY = 10 * 365 * DAY
SERVING_VALIDITY = 365 * DAY
LOOKAHEAD = 90 * DAY
BACKDATE = datetime.timedelta(hours=1)
KEY_SIZE = 2048


@dataclass(frozen=True)
class CertPolicy:
    """What the Secret must hold: the names and validity periods (cert-controller's defaults)."""

    dns_name: str
    ca_name: str = "cert"
    organization: str = "metallb"
    ca_validity: datetime.timedelta = CA_VALIDITY
    serving_validity: datetime.timedelta = SERVING_VALIDITY
    lookahead: datetime.timedelta = LOOKAHEAD

    @classmethod
    def for_service(cls, service: str, namespace: str) -> "CertPolicy":
        """The policy for Service `service` in `namespace`: DNS `<service>.<namespace>.svc`."""
        return cls(dns_name=f"{service}.{namespace}.svc")


@dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM private key."""

    cert: bytes
    key: bytes


class Action(enum.Enum):
    KEEP = "keep"
    RENEW_SERVING = "renew-serving"
    RENEW_ALL = "renew-all"


@dataclass(frozen=True)
class Decision:
    """What to do with a Secret's content, and why (`reason` is empty for KEEP)."""

    action: Action
    reason: str = ""


class _InvalidError(Exception):
    """A reason why a certificate cannot be kept."""


def _aware(t: datetime.datetime) -> datetime.datetime:
    if t.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return t.astimezone(datetime.UTC)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1 for RSA
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def new_ca(policy: CertPolicy, now: datetime.datetime) -> KeyPair:
    """A self-signed CA valid from `now - 1h` to `now + ca_validity`."""
    now = _aware(now)
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, policy.ca_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, policy.organization),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + policy.ca_validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=True,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(policy.ca_name)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key))


def issue_serving(policy: CertPolicy, ca: KeyPair, now: datetime.datetime) -> KeyPair:
    """A serving certificate for `policy.dns_name`, signed by `ca`, valid for a year."""
    now = _aware(now)
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ValueError("the CA key is not an RSA key")
    key = _new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, policy.dns_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + policy.serving_validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=True,
                key_cert_sign=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(policy.dns_name)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key))


def _load(data: Mapping[str, bytes], cert_name: str, key_name: str) -> x509.Certificate:
    """The certificate under `cert_name`, checked against the private key under `key_name`."""
    cert_pem, key_pem = data.get(cert_name), data.get(key_name)
    if not cert_pem:
        raise _InvalidError(f"{cert_name} is missing")
    if not key_pem:
        raise _InvalidError(f"{key_name} is missing")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        public = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as err:
        raise _InvalidError(f"{cert_name} is not a PEM certificate") from err
    try:
        key: PrivateKeyTypes = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise _InvalidError(f"{key_name} is not an unencrypted PEM private key") from err
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != public.public_bytes(*spki):
        raise _InvalidError(f"{key_name} does not match {cert_name}")
    return cert


def _names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return san.value.get_values_for_type(x509.DNSName)


def _check_name(cert: x509.Certificate, name: str, what: str) -> None:
    # Verification by name looks at the SAN only, as Go's x509 and Python's ssl do.
    if name not in _names(cert):
        raise _InvalidError(f"{what} is not for DNS name {name}")


def _check_time(
    cert: x509.Certificate, what: str, now: datetime.datetime, lookahead: datetime.timedelta
) -> None:
    if now < cert.not_valid_before_utc:
        raise _InvalidError(f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}")
    if now + lookahead > cert.not_valid_after_utc:
        raise _InvalidError(
            f"{what} expires at {cert.not_valid_after_utc.isoformat()}, "
            f"within {lookahead.days} days"
        )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _check_ca(policy: CertPolicy, data: Mapping[str, bytes], now: datetime.datetime) -> None:
    ca = _load(data, CA_CERT, CA_KEY)
    if not isinstance(ca.public_key(), rsa.RSAPublicKey):
        raise _InvalidError(f"{CA_KEY} is not an RSA key")  # cert-controller reads RSA CAs only
    try:
        constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise _InvalidError(f"{CA_CERT} is not a CA certificate")
    if not _issued_by(ca, ca):
        raise _InvalidError(f"{CA_CERT} is not self-signed")
    _check_name(ca, policy.ca_name, CA_CERT)
    _check_time(ca, CA_CERT, now, policy.lookahead)


def _check_serving(policy: CertPolicy, data: Mapping[str, bytes], now: datetime.datetime) -> None:
    ca = x509.load_pem_x509_certificate(data[CA_CERT])  # checked by _check_ca
    cert = _load(data, TLS_CERT, TLS_KEY)
    if not _issued_by(cert, ca):
        raise _InvalidError(f"{TLS_CERT} is not issued by {CA_CERT}")
    _check_name(cert, policy.dns_name, TLS_CERT)
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = None  # no extendedKeyUsage: any usage, as Go's x509 treats it
    if usages is not None and ExtendedKeyUsageOID.SERVER_AUTH not in usages:
        raise _InvalidError(f"{TLS_CERT} is not for server authentication")
    _check_time(cert, TLS_CERT, now, policy.lookahead)


def decide(policy: CertPolicy, data: Mapping[str, bytes], now: datetime.datetime) -> Decision:
    """Keep the Secret's content, re-issue the serving certificate, or regenerate everything."""
    now = _aware(now)
    try:
        _check_ca(policy, data, now)
    except _InvalidError as reason:
        return Decision(Action.RENEW_ALL, str(reason))
    try:
        _check_serving(policy, data, now)
    except _InvalidError as reason:
        return Decision(Action.RENEW_SERVING, str(reason))
    return Decision(Action.KEEP)


def renew(
    policy: CertPolicy, data: Mapping[str, bytes], decision: Decision, now: datetime.datetime
) -> dict[str, bytes]:
    """The Secret's new content for `decision`: `data` with the four entries replaced as needed."""
    out = dict(data)
    if decision.action is Action.KEEP:
        return out
    if decision.action is Action.RENEW_ALL:
        ca = new_ca(policy, now)
    else:
        ca = KeyPair(data[CA_CERT], data[CA_KEY])
    serving = issue_serving(policy, ca, now)
    out.update({CA_CERT: ca.cert, CA_KEY: ca.key, TLS_CERT: serving.cert, TLS_KEY: serving.key})
    return out


def refresh(
    policy: CertPolicy, data: Mapping[str, bytes], now: datetime.datetime
) -> tuple[Decision, dict[str, bytes]]:
    """`decide()` then `renew()`: the decision and the content the Secret must hold."""
    decision = decide(policy, data, now)
    return decision, renew(policy, data, decision, now)
