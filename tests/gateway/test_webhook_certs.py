"""The webhook certificate policy (gateway/webhook/certs.py): cert-controller's rules, pure.

Key generation costs ~0.1 s, so the bundles are made once and the properties vary `now` and
the damage done to them.
"""

import datetime
import functools
import subprocess
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.webhook.certs import (
    BACKDATE,
    CA_CERT,
    CA_KEY,
    CA_VALIDITY,
    KEYS,
    LOOKAHEAD,
    SERVING_VALIDITY,
    TLS_CERT,
    TLS_KEY,
    Action,
    CertPolicy,
    Decision,
    KeyPair,
    decide,
    issue_serving,
    new_ca,
    refresh,
    renew,
)
from tests.conftest import require_binary

T0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
POLICY = CertPolicy.for_service("metallb-webhook-service", "metallb-system")
SECOND = datetime.timedelta(seconds=1)


@functools.cache
def bundle() -> dict[str, bytes]:
    decision, data = refresh(POLICY, {}, T0)
    assert decision == Decision(Action.RENEW_ALL, "ca.crt is missing")
    return data


@functools.cache
def other_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def cert(data: dict[str, bytes], name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data[name])


def test_a_new_bundle_is_cert_controllers() -> None:
    data = bundle()
    assert set(data) == set(KEYS)
    ca, serving = cert(data, CA_CERT), cert(data, TLS_CERT)
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cert"
    assert ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "metallb"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert ca.not_valid_before_utc == T0 - BACKDATE
    assert ca.not_valid_after_utc == T0 + CA_VALIDITY
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["metallb-webhook-service.metallb-system.svc"]
    assert serving.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "metallb-webhook-service.metallb-system.svc"
    )
    eku = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not serving.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert serving.issuer == ca.subject
    serving.verify_directly_issued_by(ca)
    assert serving.not_valid_before_utc == T0 - BACKDATE
    assert serving.not_valid_after_utc == T0 + SERVING_VALIDITY
    assert serving.serial_number != ca.serial_number
    for key in (CA_KEY, TLS_KEY):  # PKCS#1, as cert-controller writes (and reads) them
        assert data[key].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert decide(POLICY, data, T0) == Decision(Action.KEEP)


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=0, max_value=int((SERVING_VALIDITY - LOOKAHEAD).total_seconds())))
def test_kept_until_the_lookahead_reaches_the_serving_expiry(seconds: int) -> None:
    now = T0 + datetime.timedelta(seconds=seconds)
    assert decide(POLICY, bundle(), now) == Decision(Action.KEEP)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(
        min_value=int((SERVING_VALIDITY - LOOKAHEAD).total_seconds()) + 1,
        max_value=int((CA_VALIDITY - LOOKAHEAD).total_seconds()),
    )
)
def test_serving_certificate_renewed_within_the_lookahead(seconds: int) -> None:
    now = T0 + datetime.timedelta(seconds=seconds)
    decision = decide(POLICY, bundle(), now)
    assert decision.action is Action.RENEW_SERVING
    assert decision.reason.startswith("tls.crt expires at")


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_everything_renewed_within_the_ca_lookahead(seconds: int) -> None:
    now = T0 + CA_VALIDITY - LOOKAHEAD + datetime.timedelta(seconds=seconds)
    decision = decide(POLICY, bundle(), now)
    assert decision.action is Action.RENEW_ALL and "ca.crt expires at" in decision.reason


def test_not_yet_valid_is_renewed() -> None:
    # cert-controller checks only at now + lookahead; a notBefore in the future fails here.
    decision = decide(POLICY, bundle(), T0 - BACKDATE - SECOND)
    assert decision.action is Action.RENEW_ALL and "is not valid before" in decision.reason


def test_renewing_the_serving_certificate_keeps_the_ca_and_other_keys() -> None:
    later = T0 + SERVING_VALIDITY - LOOKAHEAD + SECOND
    data = {**bundle(), "unrelated": b"kept"}
    decision, new = refresh(POLICY, data, later)
    assert decision.action is Action.RENEW_SERVING
    assert new[CA_CERT] == data[CA_CERT] and new[CA_KEY] == data[CA_KEY]
    assert new[TLS_CERT] != data[TLS_CERT] and new[TLS_KEY] != data[TLS_KEY]
    assert new["unrelated"] == b"kept"
    assert cert(new, TLS_CERT).not_valid_after_utc == later + SERVING_VALIDITY
    assert decide(POLICY, new, later) == Decision(Action.KEEP)
    assert renew(POLICY, new, Decision(Action.KEEP), later) == new


def test_another_service_name_reissues_the_serving_certificate() -> None:
    other = CertPolicy.for_service("webhooks", "metallb")
    assert decide(other, bundle(), T0) == Decision(
        Action.RENEW_SERVING, "tls.crt is not for DNS name webhooks.metallb.svc"
    )


RENEW_ALL, RENEW_SERVING = Action.RENEW_ALL, Action.RENEW_SERVING
DNS = POLICY.dns_name
BAD_PEM = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


# Each row: what replaces which entries ("other": an unrelated key, a key name: that entry's
# value, None: removed), and the decision.
@pytest.mark.parametrize(
    ("damage", "action", "reason"),
    [
        ({CA_CERT: b""}, RENEW_ALL, "ca.crt is missing"),
        ({CA_KEY: b"garbage"}, RENEW_ALL, "ca.key is not an unencrypted PEM private key"),
        ({CA_CERT: BAD_PEM}, RENEW_ALL, "ca.crt is not a PEM certificate"),
        ({CA_KEY: "other"}, RENEW_ALL, "ca.key does not match ca.crt"),
        ({CA_CERT: TLS_CERT, CA_KEY: TLS_KEY}, RENEW_ALL, "ca.crt is not a CA certificate"),
        ({TLS_KEY: "other"}, RENEW_SERVING, "tls.key does not match tls.crt"),
        ({TLS_KEY: CA_KEY}, RENEW_SERVING, "tls.key does not match tls.crt"),
        ({TLS_CERT: CA_CERT, TLS_KEY: CA_KEY}, RENEW_SERVING, f"tls.crt is not for DNS name {DNS}"),
        ({TLS_CERT: None}, RENEW_SERVING, "tls.crt is missing"),
    ],
)
def test_damaged_content(damage: dict[str, object], action: Action, reason: str) -> None:
    data = dict(bundle())
    for name, value in damage.items():
        if value is None:
            del data[name]
        elif value == "other":
            data[name] = other_key_pem()
        elif isinstance(value, str):
            data[name] = bundle()[value]
        else:
            assert isinstance(value, bytes)
            data[name] = value
    assert decide(POLICY, data, T0) == Decision(action, reason)
    _, new = refresh(POLICY, data, T0)
    assert decide(POLICY, new, T0) == Decision(Action.KEEP)


def test_serving_certificate_of_another_ca() -> None:
    foreign = issue_serving(POLICY, new_ca(POLICY, T0), T0)
    data = {**bundle(), TLS_CERT: foreign.cert, TLS_KEY: foreign.key}
    assert decide(POLICY, data, T0) == Decision(
        Action.RENEW_SERVING, "tls.crt is not issued by ca.crt"
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(KEYS), st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_are_renewed_never_raised(name: str, garbage: bytes) -> None:
    data = {**bundle(), name: garbage}
    decision = decide(POLICY, data, T0)
    expected = Action.RENEW_ALL if name.startswith("ca.") else Action.RENEW_SERVING
    assert decision.action is expected and decision.reason


def _go_like_serving(ca: KeyPair) -> KeyPair:
    """A serving certificate the way other tools make it: no key identifiers, no EKU."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert)
    ca_key = serialization.load_pem_private_key(ca.key, password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    dns = POLICY.dns_name
    built = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0 - BACKDATE)
        .not_valid_after(T0 + SERVING_VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return KeyPair(built.public_bytes(serialization.Encoding.PEM), key_pem)


def test_a_valid_pair_made_elsewhere_is_kept() -> None:
    # MetalLB's Secret on upgrade: any valid pair is kept, so the caBundles do not change.
    data = dict(bundle())
    pair = _go_like_serving(KeyPair(data[CA_CERT], data[CA_KEY]))
    data.update({TLS_CERT: pair.cert, TLS_KEY: pair.key})
    assert decide(POLICY, data, T0) == Decision(Action.KEEP)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(POLICY, bundle(), datetime.datetime(2030, 1, 1))


def test_metallbs_secret_is_kept(tmp_path: Path) -> None:
    """What MetalLB's cert-controller writes: CA serial 0, serving serial 1, PKCS#1 keys.

    Kept on an upgrade, so the caBundles do not change while MetalLB's pods still serve.
    cryptography warns about the serial 0 (RFC 5280 wants positive serials) and announces it
    will refuse such certificates; then the CA is regenerated instead (a parse error).
    """
    openssl = require_binary("openssl")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=tmp_path)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-set_serial", "0",
        "-subj", "/O=metallb/CN=cert", "-addext", "subjectAltName=DNS:cert",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        "-keyout", "ca.pkcs8", "-out", "ca.crt")  # fmt: skip
    run("rsa", "-in", "ca.pkcs8", "-traditional", "-out", "ca.key")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={POLICY.dns_name}",
        "-keyout", "tls.pkcs8", "-out", "tls.csr")  # fmt: skip
    (tmp_path / "ext").write_text(
        f"subjectAltName=DNS:{POLICY.dns_name}\nextendedKeyUsage=serverAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
    )
    run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial",
        "1", "-days", "365", "-extfile", "ext", "-out", "tls.crt")  # fmt: skip
    run("rsa", "-in", "tls.pkcs8", "-traditional", "-out", "tls.key")
    data = {name: (tmp_path / name).read_bytes() for name in KEYS}
    assert data[CA_KEY].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    now = datetime.datetime.now(datetime.UTC)  # openssl's notBefore is now, not an hour ago
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        assert decide(POLICY, data, now) == Decision(Action.KEEP)
