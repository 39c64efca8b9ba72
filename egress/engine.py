"""The delivery engine: one message, its recipients, one outcome per recipient.

`DeliveryEngine.deliver(message, content, recipients)` splits the recipients
by domain, routes each domain (a smart host from `routes`, else MX lookup with
preference order and fallback to the next host and address, null MX
respected), applies the TLS requirement (tenant `tls`, route `tls`, MTA-STS,
DANE, S/MIME fallback), shapes per destination (connection limit, messages per
minute, backoff after 421), sends from the tenant's or app's egress addresses
with its HELO name, reuses connections, and returns a `RecipientOutcome` per
recipient: delivered, deferred or bounced with the reply code, enhanced
status, text, the host, the TLS record and the bounce class.  It never
raises for a delivery problem: failures are outcomes.  Kafka is not here:
egress/worker.py consumes the outbound topic and calls this.

Reads: the config (through `config_provider`, read on every call so changes
apply at once), DNS, replies from receiving servers (untrusted).  Holds
secrets: clear message content while sending; smart-host passwords (from the
config) while authenticating.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

import aiosmtplib

from egress import dane, mx, replies, smime
from egress.mta_sts import HttpsPolicyFetcher, MtaSts
from egress.outcome import (DELIVERED, RecipientOutcome, from_local, reply_parts,
                            status_for)
from egress.bounces import classify
from egress.pool import Connection, ConnectionPool, Grant
from egress.replies import LocalReply
from egress.shaping import Destination, Shaper
from egress.tls_policy import Requirement, level_requirement, stronger, tls_record, with_name
from postwarden.config.delivery import Delivery, SmtpAuth, TenantDelivery

log = logging.getLogger("postwarden.egress")

__all__ = ["DeliveryEngine", "RecipientOutcome", "DeliveredStore", "MemoryDeliveredStore",
           "EngineStats"]


class DeliveredStore(Protocol):
    async def seen(self, message_id: str, recipient: str) -> bool: ...
    async def record(self, message_id: str, recipient: str) -> None: ...


class MemoryDeliveredStore:
    """The delivered-set in memory (the worker backs it with a compacted topic)."""

    def __init__(self) -> None:
        self._delivered: set[tuple[str, str]] = set()

    async def seen(self, message_id: str, recipient: str) -> bool:
        return (message_id, recipient.lower()) in self._delivered

    async def record(self, message_id: str, recipient: str) -> None:
        self._delivered.add((message_id, recipient.lower()))


@dataclass
class EngineStats:
    connections: int = 0            # SMTP connections opened
    reused: int = 0                 # transactions on an already open connection
    transactions: int = 0
    tls_handshakes: int = 0
    tls_seconds: float = 0.0        # wall time inside STARTTLS handshakes
    mta_sts_fetches: int = 0


@dataclass(frozen=True)
class Target:
    """One host to try: an MX host or the smart host, with its addresses and TLS requirement."""
    host: str
    port: int
    addresses: tuple[str, ...]
    requirement: Requirement
    auth: SmtpAuth | None = None
    failure: LocalReply | None = None   # when set, not tried: this is why


@dataclass(frozen=True)
class Parcel:
    """Recipients of one domain that get the same content under the same TLS floor."""
    recipients: tuple[str, ...]
    content: bytes
    floor: str | None = None            # "verify" when S/MIME fell back to verified TLS
    smime: bool = False


@dataclass
class _Attempt:
    outcomes: dict[str, RecipientOutcome] = field(default_factory=dict)
    failure: LocalReply | None = None
    host: str = ""
    tls: dict[str, str] = field(default_factory=dict)
    stop: bool = False              # do not try further hosts (shaping busy)
    next_host: bool = False         # skip this host's other addresses


@dataclass
class _Job:
    message: Any
    delivery: Delivery
    tenant: TenantDelivery
    source_addresses: tuple[str, ...]
    helo: str


ContextFactory = Callable[[], ssl.SSLContext]
Resigner = Callable[[Any, bytes], "bytes | Awaitable[bytes]"]


class DeliveryEngine:
    def __init__(self, config_provider: Callable[[], Any], *, resolver=None,
                 ssl_context_factory: ContextFactory | None = None,
                 delivered_store: DeliveredStore | None = None,
                 mta_sts_fetcher: Callable[[str], Awaitable[str]] | None = None,
                 mta_sts_port: int = 443,
                 dkim_resigner: Resigner | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._config_provider = config_provider
        self._resolver = resolver
        self._dns: mx.Dns | None = None
        self._dns_key: tuple | None = None
        self._ssl_context_factory = ssl_context_factory
        self._verify_context: ssl.SSLContext | None = None
        self._insecure_context: ssl.SSLContext | None = None
        self._mta_sts_fetcher = mta_sts_fetcher
        self._mta_sts_port = mta_sts_port
        self._mta_sts: MtaSts | None = None
        self.delivered_store = delivered_store
        self.dkim_resigner = dkim_resigner
        self.pool = ConnectionPool(clock=clock)
        self.shaper = Shaper(clock=clock)
        self.stats = EngineStats()
        self._default_helo: str | None = None

    # -- plumbing ---------------------------------------------------------------
    def dns(self, delivery: Delivery) -> mx.Dns:
        if self._resolver is not None:
            if self._dns is None:
                self._dns = mx.Dns(self._resolver)
            return self._dns
        key = (delivery.nameservers, delivery.dns_timeout)
        if self._dns is None or key != self._dns_key:
            self._dns = mx.Dns(mx.make_resolver(delivery.nameservers, delivery.dns_timeout))
            self._dns_key = key
            self._mta_sts = None
        return self._dns

    def mta_sts(self, delivery: Delivery) -> MtaSts:
        dns_client = self.dns(delivery)
        if self._mta_sts is None or self._mta_sts.dns is not dns_client:
            fetch = self._mta_sts_fetcher or HttpsPolicyFetcher(
                dns_client, self._context_verifying(), self._mta_sts_port)
            cache = self._mta_sts.cache if self._mta_sts else {}
            self._mta_sts = MtaSts(dns_client, fetch, cache=cache)
        return self._mta_sts

    def _context_verifying(self) -> ssl.SSLContext:
        if self._verify_context is None:
            context = (self._ssl_context_factory() if self._ssl_context_factory
                       else ssl.create_default_context())
            context.check_hostname = True
            context.verify_mode = ssl.CERT_REQUIRED
            self._verify_context = context
        return self._verify_context

    def _context_unverified(self) -> ssl.SSLContext:
        if self._insecure_context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._insecure_context = context
        return self._insecure_context

    def _helo(self, configured: str | None) -> str:
        if configured:
            return configured
        if self._default_helo is None:
            self._default_helo = socket.getfqdn() or "localhost"
        return self._default_helo

    async def close(self) -> None:
        await self.pool.close()

    # -- the entry point ------------------------------------------------------
    async def deliver(self, message, content: bytes, recipients: list[str]) -> list[RecipientOutcome]:
        config = self._config_provider()
        delivery: Delivery = config.delivery
        tenant = config.tenant(message.tenant_id)
        tenant_delivery: TenantDelivery = tenant.delivery if tenant else TenantDelivery()
        self.pool.idle_timeout = delivery.idle_timeout
        egress = tenant_delivery.egress_for(message.app_id)
        job = _Job(message, delivery, tenant_delivery,
                   egress.source_addresses or delivery.source_addresses,
                   self._helo(egress.helo or delivery.helo))

        outcomes: dict[str, RecipientOutcome] = {}
        by_domain: dict[str, list[str]] = defaultdict(list)
        for recipient in dict.fromkeys(recipients):
            if self.delivered_store and await self.delivered_store.seen(message.id, recipient):
                outcomes[recipient] = from_local(recipient, replies.ALREADY_DELIVERED, duplicate=True)
                continue
            local, at, domain = recipient.rpartition("@")
            if not at or not local or not domain:
                outcomes[recipient] = from_local(recipient, replies.BAD_ADDRESS)
                continue
            by_domain[domain.lower().rstrip(".")].append(recipient)

        results = await asyncio.gather(*(self._deliver_domain_safely(job, content, domain, rcpts)
                                         for domain, rcpts in by_domain.items()))
        for result in results:
            outcomes.update(result)
        if self.delivered_store:
            for outcome in outcomes.values():
                if outcome.status == DELIVERED and not outcome.duplicate:
                    await self.delivered_store.record(message.id, outcome.recipient)
        return [outcomes[r] for r in recipients]

    async def _deliver_domain_safely(self, job: _Job, content: bytes, domain: str,
                                     rcpts: list[str]) -> dict[str, RecipientOutcome]:
        try:
            return await self._deliver_domain(job, content, domain, rcpts)
        except Exception as error:  # a bug must not lose the message: defer and log
            log.exception("delivery to %s failed unexpectedly (message %s)", domain, job.message.id)
            reply = LocalReply(451, "4.3.0", f"internal delivery error ({type(error).__name__})")
            return {r: from_local(r, reply) for r in rcpts}

    async def _deliver_domain(self, job: _Job, content: bytes, domain: str,
                              rcpts: list[str]) -> dict[str, RecipientOutcome]:
        parcels, held = await self._encryption_plan(job, content, rcpts)
        outcomes = dict(held)
        for parcel in parcels:
            outcomes.update(await self._deliver_parcel(job, domain, parcel))
        return outcomes

    # -- S/MIME -----------------------------------------------------------------
    async def _encryption_plan(self, job: _Job, content: bytes, rcpts: list[str]
                               ) -> tuple[list[Parcel], dict[str, RecipientOutcome]]:
        decision = smime.decide(job.message, job.tenant, rcpts)
        if decision is None:
            floor = "verify" if smime.tls_required(job.message) else None
            return [Parcel(tuple(rcpts), content, floor=floor)], {}
        parcels: list[Parcel] = []
        held: dict[str, RecipientOutcome] = {}
        if decision.encrypt_to:
            encrypted = smime.encrypt_message(content, decision.certificates)
            signed = await self._resign(job, encrypted)
            if signed is None:
                for recipient in decision.encrypt_to:
                    held[recipient] = from_local(recipient, replies.RESIGN_FAILED, smime=True)
            else:
                parcels.append(Parcel(tuple(decision.encrypt_to), signed, smime=True))
        if decision.verified_tls:
            parcels.append(Parcel(tuple(decision.verified_tls), content, floor="verify"))
        if decision.plain:
            parcels.append(Parcel(tuple(decision.plain), content))
        for recipient in decision.hold:
            held[recipient] = from_local(recipient, replies.SMIME_HOLD)
        return parcels, held

    async def _resign(self, job: _Job, encrypted: bytes) -> bytes | None:
        """DKIM-sign the encrypted message again (the old signature covered the clear body).

        Uses `dkim_resigner(message, content)` when given, else the sign stage's pure
        core with the tenant's keys; None when it cannot be signed.
        """
        if self.dkim_resigner is not None:
            signed = self.dkim_resigner(job.message, encrypted)
            if asyncio.iscoroutine(signed):
                signed = await signed
            return signed
        from agents.sign.stage import sign_submission

        tenant = self._config_provider().tenant(job.message.tenant_id)
        if tenant is None:
            return None
        signed, result = sign_submission(encrypted, tenant)
        if signed is None:
            log.warning("cannot DKIM-sign the encrypted message %s: %s", job.message.id,
                        result.reason)
        return signed

    # -- routing ------------------------------------------------------------------
    async def _targets(self, job: _Job, domain: str, parcel: Parcel
                       ) -> tuple[list[Target], LocalReply | None]:
        delivery, tenant = job.delivery, job.tenant
        route = delivery.route_for(domain, job.message.tenant_id)
        basic = tenant.tls if tenant.tls in ("opportunistic", "required", "verify") else "opportunistic"
        dns_client = self.dns(delivery)

        if route and route.smarthost:
            host, port = route.smarthost
            requirement = level_requirement(route.tls or basic, host)
            if parcel.floor:
                requirement = stronger(requirement, level_requirement(parcel.floor, host))
            addresses, _, error = await dns_client.addresses(host)
            if not addresses:
                failure = replies.DNS_TEMPFAIL if error else replies.CONNECT_FAILED
                return [], failure.with_detail(f"smart host {host} has no address")
            return [Target(host, port, addresses, requirement, route.auth)], None

        hosts = await dns_client.mail_hosts(domain)
        if hosts.failure:
            return [], hosts.failure
        floor = level_requirement(route.tls if route and route.tls else basic, "")
        if parcel.floor:
            floor = stronger(floor, level_requirement(parcel.floor, ""))
        policy = None
        if tenant.tls in ("mta-sts", "dane"):
            sts = self.mta_sts(delivery)
            before = sts.fetches
            policy, _note = await sts.policy_for(domain)
            self.stats.mta_sts_fetches += sts.fetches - before
        port = delivery.mx_port
        targets: list[Target] = []
        refused_by_policy = False
        for host in hosts.hosts:
            if not host.addresses:
                continue
            requirement = with_name(floor, host.name)
            if tenant.tls == "dane" and host.secure:
                tlsa = await dns_client.tlsa(host.name, port)
                if tlsa.failed:
                    targets.append(Target(host.name, port, host.addresses, requirement,
                                          failure=replies.DNS_TEMPFAIL.with_detail("TLSA lookup")))
                    continue
                usable = dane.usable_records(tlsa)
                if usable:
                    # DANE-EE records replace PKIX checks; with only DANE-TA records (which
                    # need the chain) TLS is still mandatory, checked as the floor says.
                    end_entity = dane.authenticating(usable)
                    requirement = Requirement("dane", True, requirement.verify and not end_entity,
                                              host.name, end_entity)
                    targets.append(Target(host.name, port, host.addresses, requirement))
                    continue
            if policy is not None and policy.mode == "enforce":
                if not policy.allows(host.name):
                    refused_by_policy = True
                    continue
                requirement = stronger(requirement, Requirement("mta-sts", True, True, host.name))
            elif policy is not None and policy.mode == "testing":
                requirement = Requirement("mta-sts-testing", requirement.require,
                                          requirement.verify, host.name)
            targets.append(Target(host.name, port, host.addresses, requirement))
        if not targets and refused_by_policy:
            return [], replies.MTA_STS_NO_VALID_MX
        return targets, None

    # -- attempts -------------------------------------------------------------------
    async def _deliver_parcel(self, job: _Job, domain: str, parcel: Parcel
                              ) -> dict[str, RecipientOutcome]:
        targets, failure = await self._targets(job, domain, parcel)
        if failure:
            return {r: from_local(r, failure, smime=parcel.smime) for r in parcel.recipients}
        remaining = list(parcel.recipients)
        results: dict[str, RecipientOutcome] = {}
        last = _Attempt(failure=replies.CONNECT_FAILED)
        for target in targets:
            if target.failure:
                last = _Attempt(failure=target.failure, host=target.host)
                continue
            dest = self.shaper.destination(target.host, domain, job.delivery)
            if self.shaper.backing_off(dest):
                last = _Attempt(failure=replies.BACKING_OFF, host=target.host)
                continue
            if not await self.shaper.take(dest, job.delivery.max_shaping_wait):
                last = _Attempt(failure=replies.SHAPING_BUSY, host=target.host)
                continue
            for address in target.addresses:
                source = _source_for(job.source_addresses, address, job.message.id)
                if source is False:
                    last = _Attempt(failure=replies.CONNECT_FAILED.with_detail(
                        "no egress source address of this IP family"), host=target.host)
                    continue
                attempt = await self._attempt(job, target, dest, address, source or None,
                                              parcel, remaining)
                results.update(attempt.outcomes)
                remaining = [r for r in remaining if r not in results]
                if not remaining:
                    return results
                if attempt.failure:
                    last = attempt
                if attempt.stop or attempt.next_host:
                    break
            if last.stop:
                break
        for recipient in remaining:
            results[recipient] = from_local(recipient, last.failure or replies.CONNECT_FAILED,
                                            host=last.host, tls=last.tls,
                                            helo=job.helo, smime=parcel.smime)
        return results

    async def _attempt(self, job: _Job, target: Target, dest: Destination, address: str,
                       source: str | None, parcel: Parcel, rcpts: list[str]) -> _Attempt:
        delivery = job.delivery
        key = (address, target.port, source, job.helo, target.requirement.signature(),
               target.auth.username if target.auth else None)
        for _try in range(2):
            got = await self.pool.acquire(key, dest.key, dest.rule.connections,
                                          delivery.max_shaping_wait)
            if got is None:
                return _Attempt(failure=replies.SHAPING_BUSY, host=target.host, stop=True)
            if isinstance(got, Grant):
                opened = await self._open(job, target, address, source)
                if isinstance(opened, _Attempt):
                    await self.pool.failed_to_open(dest.key)
                    if opened.failure and opened.failure.code == 421:
                        self.shaper.note_421(dest)
                        opened.next_host = True
                    return opened
                conn = opened
                conn.dest_key = dest.key
                conn.key = key
            else:
                conn = got
                self.stats.reused += 1
            result, reusable, saw_421, stale = await self._transaction(job, conn, parcel, rcpts)
            keep = (reusable and delivery.connection_reuse
                    and conn.messages < delivery.messages_per_connection)
            await self.pool.release(conn, keep)
            if stale and conn.reused and _try == 0:
                continue            # the idle connection had died: open a fresh one
            if saw_421:
                self.shaper.note_421(dest)
                result.next_host = True
            elif any(o.code < 300 for o in result.outcomes.values()):
                self.shaper.note_success(dest)
            return result
        return _Attempt(failure=replies.CONNECTION_LOST, host=target.host)

    async def _open(self, job: _Job, target: Target, address: str, source: str | None,
                    clear: bool = False) -> Connection | _Attempt:
        """Connect, EHLO, STARTTLS as required, AUTH; or an _Attempt saying why not."""
        delivery = job.delivery
        requirement = target.requirement
        smtp = aiosmtplib.SMTP(hostname=address, port=target.port, local_hostname=job.helo,
                               source_address=(source, 0) if source else None,
                               timeout=delivery.command_timeout, start_tls=False)
        host = target.host

        def failed(reply: LocalReply, tls: dict | None = None, **flags) -> _Attempt:
            smtp.close()
            return _Attempt(failure=reply, host=host, tls=tls or tls_record(None, requirement, False),
                            **flags)

        try:
            await smtp.connect(timeout=delivery.connect_timeout)
        except aiosmtplib.SMTPConnectResponseError as error:
            return failed(_server_reply(error.code, error.message), next_host=error.code == 421)
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
            return failed(replies.CONNECT_FAILED.with_detail(f"{address} port {target.port}: "
                                                             f"{type(error).__name__}"))
        self.stats.connections += 1
        if (refused := await _ehlo(smtp)) is not None:
            return failed(refused, next_host=True)

        ssl_object = None
        verified = False
        if smtp.supports_extension("starttls") and not clear:
            context = (self._context_verifying() if requirement.verify
                       else self._context_unverified())
            started = time.perf_counter()
            try:
                await smtp.starttls(server_hostname=host, tls_context=context)
            except (ssl.SSLError, ssl.CertificateError, aiosmtplib.SMTPException, OSError,
                    asyncio.TimeoutError, ValueError) as error:
                self.stats.tls_seconds += time.perf_counter() - started
                if requirement.require:
                    return failed(replies.TLS_FAILED.with_detail(_tls_error(error)), next_host=False)
                smtp.close()
                # Opportunistic: a failed handshake is retried in clear, as MTAs do.
                return await self._open(job, target, address, source, clear=True)
            self.stats.tls_seconds += time.perf_counter() - started
            self.stats.tls_handshakes += 1
            ssl_object = smtp.get_transport_info("ssl_object")
            verified = requirement.verify
            if requirement.tlsa:
                cert = ssl_object.getpeercert(binary_form=True) if ssl_object else None
                if not dane.matches(cert, requirement.tlsa):
                    return failed(replies.DANE_MISMATCH,
                                  tls_record(ssl_object, requirement, False))
                verified = True
            if (refused := await _ehlo(smtp)) is not None:
                return failed(refused, next_host=True)
        elif requirement.require:
            try:
                await asyncio.wait_for(smtp.quit(), 2)
            except Exception:
                pass
            return failed(replies.TLS_NOT_OFFERED)
        tls = tls_record(ssl_object, requirement, verified)

        if target.auth:
            try:
                await smtp.login(target.auth.username, target.auth.password)
            except aiosmtplib.SMTPAuthenticationError as error:
                return failed(replies.AUTH_FAILED.with_detail(f"{error.code} {_one_line(error.message)}"),
                              tls)
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
                return failed(replies.AUTH_FAILED.with_detail(_one_line(str(error))), tls)

        return Connection(smtp=smtp, key=(), dest_key="", host=host, address=address,
                          source_address=source or _local_address(smtp), helo=job.helo, tls=tls)

    async def _transaction(self, job: _Job, conn: Connection, parcel: Parcel, rcpts: list[str]
                           ) -> tuple[_Attempt, bool, bool, bool]:
        """MAIL, RCPT per recipient, DATA: (attempt, reusable, saw 421, stale connection)."""
        smtp = conn.smtp
        content = parcel.content
        result = _Attempt(host=conn.host, tls=conn.tls)
        self.stats.transactions += 1

        def outcome(recipient: str, code: int, message: str) -> RecipientOutcome:
            enhanced, text = reply_parts(code, message)
            status = status_for(code)
            return RecipientOutcome(
                recipient, status, code, enhanced, text, conn.host, dict(conn.tls),
                classify(code, enhanced, text) if status != DELIVERED else None,
                source_address=conn.source_address, helo=conn.helo, remote_address=conn.address,
                smime=parcel.smime)

        def local(recipient: str, reply: LocalReply) -> RecipientOutcome:
            return from_local(recipient, reply, host=conn.host, tls=conn.tls,
                              source_address=conn.source_address, helo=conn.helo,
                              remote_address=conn.address, smime=parcel.smime)

        options = []
        if smtp.supports_extension("size"):
            options.append(f"SIZE={len(content)}")
        if smtp.supports_extension("8bitmime") and not content.isascii():
            options.append("BODY=8BITMIME")
        try:
            await smtp.mail(job.message.envelope_sender or "", options=options)
        except aiosmtplib.SMTPResponseException as error:
            if error.code == 421:
                result.failure = _server_reply(error.code, error.message)
                return result, False, True, False
            for r in rcpts:
                result.outcomes[r] = outcome(r, error.code, error.message)
            return result, await _rset(smtp), False, False
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
            result.failure = replies.CONNECTION_LOST
            result.next_host = True
            return result, False, False, True

        accepted: list[str] = []
        for r in rcpts:
            try:
                await smtp.rcpt(r)
                accepted.append(r)
            except aiosmtplib.SMTPResponseException as error:
                if error.code == 421:
                    result.failure = _server_reply(error.code, error.message)
                    return result, False, True, False
                result.outcomes[r] = outcome(r, error.code, error.message)
            except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                result.failure = replies.CONNECTION_LOST
                result.next_host = True
                return result, False, False, False
        if not accepted:
            return result, await _rset(smtp), False, False

        try:
            response = await smtp.data(content)
        except aiosmtplib.SMTPResponseException as error:
            if error.code == 421:
                result.failure = _server_reply(error.code, error.message)
                for r in accepted:
                    result.outcomes[r] = outcome(r, error.code, error.message)
                return result, False, True, False
            for r in accepted:
                result.outcomes[r] = outcome(r, error.code, error.message)
            return result, await _rset(smtp), False, False
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
            # The server may or may not have the message: defer, never try another host now.
            for r in accepted:
                result.outcomes[r] = local(r, replies.CONNECTION_LOST)
            result.failure = replies.CONNECTION_LOST
            return result, False, False, False
        conn.messages += 1
        for r in accepted:
            result.outcomes[r] = outcome(r, response.code, response.message)
        return result, True, False, False


# ---------------------------------------------------------------------------
def _server_reply(code: int, message: str) -> LocalReply:
    enhanced, text = reply_parts(code, message)
    return LocalReply(code, enhanced, text)


def _one_line(text: str) -> str:
    return " ".join((text or "").split())[:300]


async def _ehlo(smtp) -> LocalReply | None:
    """EHLO (again after STARTTLS); the reply that ends the attempt, or None when it worked."""
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPResponseException as error:
        return _server_reply(error.code, error.message)
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
        return replies.CONNECTION_LOST
    return None


def _tls_error(error: Exception) -> str:
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({error.verify_message})"
    return _one_line(f"{type(error).__name__}: {error}")


async def _rset(smtp) -> bool:
    try:
        await smtp.rset()
        return True
    except Exception:
        return False


def _local_address(smtp) -> str:
    try:
        sockname = smtp.get_transport_info("sockname")
        return sockname[0] if sockname else ""
    except Exception:
        return ""


def _source_for(pool: tuple[str, ...], address: str, message_id: str) -> str | bool | None:
    """The egress address for a server address: None (no pool), False (no address of its family)."""
    if not pool:
        return None
    try:
        family = ipaddress.ip_address(address).version
    except ValueError:
        return None
    candidates = [a for a in pool if ipaddress.ip_address(a).version == family]
    if not candidates:
        return False
    return candidates[zlib.crc32(message_id.encode()) % len(candidates)]
