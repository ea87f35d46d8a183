"""Certificates for mutual TLS between octperf and the amphora agent.

As in an Octavia deployment there are two CAs: the server CA signs the
agent's certificate (clients verify the agent against it), the client CA
signs the controller's certificate (the agent's ``agent_server_ca`` trusts
only it). A client certificate from any other CA is refused by the agent.

The CA private keys are used once and never written: a run needs no new
certificates after they are made.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger(__name__)

# Long enough for any run, short enough that a leaked key soon expires.
VALID_FOR = datetime.timedelta(days=7)

# Tolerates a clock that is a little behind between the two ends.
BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class AgentCerts:
    """Where the certificates of one agent and its client were written.

    ``server_pem`` holds the agent's certificate followed by its key (the
    agent's ``agent_server_cert``); ``client_ca`` is the agent's
    ``agent_server_ca``. Clients use ``client_cert``, ``client_key`` and
    verify the agent against ``server_ca``.
    """

    directory: Path
    server_ca: Path
    client_ca: Path
    server_pem: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class _Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def generate_agent_certs(
    directory: Path, server_ip: str = "127.0.0.1", client_name: str = "octperf"
) -> AgentCerts:
    """Make both CAs, the agent's and the client's certificates in ``directory``.

    ``directory`` is created (or tightened) to mode 0700; files holding a
    private key are 0600. The agent's certificate names ``server_ip`` as an
    IP subjectAltName, which is what clients check the URL's host against.
    Existing files of the same names are replaced.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)

    server_ca = _self_signed_ca("octperf amphora server CA")
    client_ca = _self_signed_ca("octperf amphora client CA")
    server = _leaf(
        server_ca,
        "amphora-agent",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.IPAddress(ipaddress.ip_address(server_ip))],
    )
    client = _leaf(client_ca, client_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])

    certs = AgentCerts(
        directory=directory,
        server_ca=directory / "server_ca.pem",
        client_ca=directory / "client_ca.pem",
        server_pem=directory / "server.pem",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
    _write(certs.server_ca, _cert_pem(server_ca), 0o644)
    _write(certs.client_ca, _cert_pem(client_ca), 0o644)
    _write(certs.server_pem, _cert_pem(server) + _key_pem(server), 0o600)
    _write(certs.client_cert, _cert_pem(client), 0o644)
    _write(certs.client_key, _key_pem(client), 0o600)
    log.debug("agent certificates written to %s", directory)
    return certs


def _self_signed_ca(common_name: str) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    builder = (
        _builder(name, name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
            critical=False,
        )
    )
    return _Issued(builder.sign(key, hashes.SHA256()), key)


def _leaf(
    issuer: _Issued,
    common_name: str,
    purpose: x509.ObjectIdentifier,
    alt_names: list[x509.GeneralName],
) -> _Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_name(common_name), issuer.certificate.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    if alt_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(alt_names), critical=False
        )
    return _Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALID_FOR)
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "octperf"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _cert_pem(issued: _Issued) -> bytes:
    return issued.certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(issued: _Issued) -> bytes:
    return issued.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode, so a key is never readable by others,
    # not even for an instant; an older file is replaced, not reused.
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
