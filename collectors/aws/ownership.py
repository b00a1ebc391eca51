"""Readers for what the account owns on the internet: registered domains and public IPs.

Route 53 records are judged against them: a record that points at an address the
account no longer holds can be claimed by whoever gets that address next.
"""

from __future__ import annotations

from .calls import CallScope, Response, ServiceCalls, fan_out
from .snapshot import Domain


def read_public_ips(scope: CallScope) -> list[str]:
    """The region's Elastic IPs and the public IPs of its network interfaces."""
    calls = scope("ec2")
    addresses = {
        address["PublicIp"]
        for address in calls.call("describe_addresses").get("Addresses", [])
        if address.get("PublicIp")
    }
    for page in calls.pages("describe_network_interfaces"):
        for interface in page.get("NetworkInterfaces", []):
            public = interface.get("Association", {}).get("PublicIp")
            if public:
                addresses.add(public)
    return sorted(addresses)


def read_domains(scope: CallScope) -> list[Domain]:
    """Domains registered with Route 53: transfer lock, auto-renew and privacy."""
    calls = scope("route53domains")
    listed = [entry for page in calls.pages("list_domains") for entry in page.get("Domains", [])]
    return sorted(fan_out(lambda entry: _domain(calls, entry), listed), key=lambda d: d.name)


def _domain(calls: ServiceCalls, entry: Response) -> Domain:
    name = entry["DomainName"]
    detail: Response = calls.attempt(lambda: calls.call("get_domain_detail", DomainName=name)) or {}
    privacy = [detail.get(f"{role}Privacy") for role in ("Admin", "Registrant", "Tech")]
    return Domain(
        name=name,
        transfer_lock=entry.get("TransferLock"),
        auto_renew=entry.get("AutoRenew"),
        privacy=None if None in privacy else all(privacy),
        expires=entry.get("Expiry"),
    )
