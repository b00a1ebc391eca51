"""Readers for the front door: API Gateway, SES, WAF, CloudFront and Route53.

Like every reader, each keeps names, settings and counts, and lists a setting whose call
failed in the resource's `unread`.
"""

from __future__ import annotations

from typing import Literal

from .calls import CallScope, Response, ServiceCalls, fan_out
from .policies import parse_policy
from .readers import tag_dict
from .snapshot import (
    ApiGatewayApi,
    ApiRoute,
    ApiStage,
    CacheBehavior,
    CloudFrontDistribution,
    CloudFrontOrigin,
    DnsRecord,
    HostedZone,
    PolicyStatement,
    SesAccount,
    SesIdentity,
    WebAcl,
    s3_bucket_of,
)


def read_http_apis(scope: CallScope) -> list[ApiGatewayApi]:
    """HTTP and WebSocket APIs (API Gateway v2) with their routes and stages."""
    calls = scope("apigatewayv2")
    return [
        _api(
            calls,
            api["ApiId"],
            api.get("Name", api["ApiId"]),
            arn=f"arn:aws:apigateway:{scope.region}::/apis/{api['ApiId']}",
            protocol="WEBSOCKET" if api.get("ProtocolType") == "WEBSOCKET" else "HTTP",
            endpoint=api.get("ApiEndpoint"),
            tags=api.get("Tags", {}),
        )
        for page in calls.pages("get_apis")
        for api in page.get("Items", [])
    ]


def read_rest_apis(scope: CallScope) -> list[ApiGatewayApi]:
    """REST APIs (API Gateway v1): each method as a route, stages with method throttling."""
    calls = scope("apigateway")
    return [
        _api(
            calls,
            api["id"],
            api.get("name", api["id"]),
            arn=f"arn:aws:apigateway:{scope.region}::/restapis/{api['id']}",
            protocol="REST",
            endpoint=f"https://{api['id']}.execute-api.{scope.region}.amazonaws.com",
            tags=api.get("tags", {}),
        )
        for page in calls.pages("get_rest_apis")
        for api in page.get("items", [])
    ]


def _api(
    calls: ServiceCalls,
    api_id: str,
    name: str,
    *,
    arn: str,
    protocol: Literal["REST", "HTTP", "WEBSOCKET"],
    endpoint: str | None,
    tags: dict[str, str],
) -> ApiGatewayApi:
    rest = protocol == "REST"
    routes = calls.attempt(_rest_routes if rest else _http_routes, calls, api_id)
    stages = calls.attempt(_rest_stages if rest else _http_stages, calls, api_id)
    return ApiGatewayApi(
        id=api_id,
        name=name,
        arn=arn,
        protocol=protocol,
        endpoint=endpoint,
        routes=sorted(routes or [], key=lambda route: route.key),
        stages=sorted(stages or [], key=lambda stage: stage.name),
        tags=tags,
        unread=(["routes"] if routes is None else []) + (["stages"] if stages is None else []),
    )


def _http_routes(calls: ServiceCalls, api_id: str) -> list[ApiRoute]:
    return [
        ApiRoute(
            id=route["RouteId"],
            key=route["RouteKey"],
            authorization_type=route.get("AuthorizationType", "NONE"),
            authorizer_id=route.get("AuthorizerId"),
            api_key_required=route.get("ApiKeyRequired", False),
        )
        for page in calls.pages("get_routes", ApiId=api_id)
        for route in page.get("Items", [])
    ]


def _http_stages(calls: ServiceCalls, api_id: str) -> list[ApiStage]:
    stages: list[ApiStage] = []
    for page in calls.pages("get_stages", ApiId=api_id):
        for stage in page.get("Items", []):
            route_settings = stage.get("RouteSettings", {}).values()
            stages.append(
                _stage(
                    stage["StageName"],
                    [stage.get("DefaultRouteSettings", {}), *route_settings],
                    ("ThrottlingRateLimit", "ThrottlingBurstLimit"),
                )
            )
    return stages


def _rest_routes(calls: ServiceCalls, api_id: str) -> list[ApiRoute]:
    routes: list[ApiRoute] = []
    for page in calls.pages("get_resources", restApiId=api_id, embed=["methods"]):
        for resource in page.get("items", []):
            for verb, method in resource.get("resourceMethods", {}).items():
                if verb == "OPTIONS":
                    continue  # CORS preflight answers carry no data and need no authorizer
                routes.append(
                    ApiRoute(
                        id=f"{resource['id']}/{verb}",
                        key=f"{verb} {resource.get('path', '/')}",
                        authorization_type=method.get("authorizationType", "NONE"),
                        authorizer_id=method.get("authorizerId"),
                        api_key_required=method.get("apiKeyRequired", False),
                    )
                )
    return routes


def _rest_stages(calls: ServiceCalls, api_id: str) -> list[ApiStage]:
    return [
        _stage(
            stage["stageName"],
            list(stage.get("methodSettings", {}).values()),
            ("throttlingRateLimit", "throttlingBurstLimit"),
            web_acl_arn=stage.get("webAclArn"),
        )
        for stage in calls.call("get_stages", restApiId=api_id).get("item", [])
    ]


def _stage(
    name: str,
    settings: list[Response],
    keys: tuple[str, str],
    web_acl_arn: str | None = None,
) -> ApiStage:
    """A stage is throttled when its default or any route/method setting sets a limit."""
    rate_key, burst_key = keys
    rates = [entry[rate_key] for entry in settings if rate_key in entry]
    bursts = [entry[burst_key] for entry in settings if burst_key in entry]
    return ApiStage(
        name=name,
        throttle_rate_limit=max(rates) if rates else None,
        throttle_burst_limit=max(bursts) if bursts else None,
        web_acl_arn=web_acl_arn,
    )


# --- SES ------------------------------------------------------------------------------


def read_ses_identities(scope: CallScope) -> list[SesIdentity]:
    """Identities with their verification and DKIM status."""
    calls = scope("ses")
    names = [name for page in calls.pages("list_identities") for name in page["Identities"]]
    identities: list[SesIdentity] = []
    for start in range(0, len(names), 100):  # both attribute calls take 100 identities
        chunk = names[start : start + 100]
        verification = calls.call("get_identity_verification_attributes", Identities=chunk)
        dkim = calls.attempt(calls.call, "get_identity_dkim_attributes", Identities=chunk)
        policies = fan_out(lambda name: calls.attempt(_identity_policies, scope, name), chunk)
        for name, policy in zip(chunk, policies, strict=True):
            status = verification.get("VerificationAttributes", {}).get(name, {})
            signing = (dkim or {}).get("DkimAttributes", {}).get(name, {})
            identities.append(
                SesIdentity(
                    name=name,
                    kind="EMAIL_ADDRESS" if "@" in name else "DOMAIN",
                    verification_status=status.get("VerificationStatus", "NotStarted"),
                    dkim_enabled=signing.get("DkimEnabled", False),
                    dkim_status=signing.get("DkimVerificationStatus"),
                    policy_statements=policy,
                )
            )
    return sorted(identities, key=lambda identity: identity.name)


def _identity_policies(scope: CallScope, name: str) -> list[PolicyStatement]:
    """The sending authorization policies of one identity, as one list of statements."""
    calls = scope("sesv2")
    response = calls.call(
        "get_email_identity_policies",
        absent=frozenset({"NotFoundException"}),
        EmailIdentity=name,
    )
    return [
        statement
        for document in response.get("Policies", {}).values()
        for statement in parse_policy(document)
    ]


def read_ses_account(scope: CallScope) -> SesAccount:
    """Sandbox status, sending quota and receipt rule sets."""
    ses, sesv2 = scope("ses"), scope("sesv2")
    account = sesv2.attempt(lambda: sesv2.call("get_account")) or {}
    quota = ses.attempt(lambda: ses.call("get_send_quota")) or {}
    rule_sets = ses.attempt(
        lambda: sorted(
            rule_set["Name"]
            for page in ses.pages("list_receipt_rule_sets")
            for rule_set in page.get("RuleSets", [])
        )
    )
    active = ses.attempt(lambda: ses.call("describe_active_receipt_rule_set"))
    production = account.get("ProductionAccessEnabled")
    return SesAccount(
        sandbox=None if production is None else not production,
        sending_enabled=account.get("SendingEnabled"),
        max_24h_send=quota.get("Max24HourSend"),
        max_send_rate=quota.get("MaxSendRate"),
        sent_last_24h=quota.get("SentLast24Hours"),
        receipt_rule_sets=rule_sets or [],
        active_receipt_rule_set=(active or {}).get("Metadata", {}).get("Name"),
    )


# --- WAF, CloudFront, Route53 ---------------------------------------------------------


def read_web_acls(scope: CallScope, acl_scope: str) -> list[WebAcl]:
    """WAFv2 web ACLs of one scope: REGIONAL in a region, CLOUDFRONT in us-east-1."""
    calls = scope("wafv2")
    acls = [
        WebAcl(name=acl["Name"], id=acl["Id"], arn=acl["ARN"], scope=acl_scope)
        for page in calls.pages(
            "list_web_acls", token=("NextMarker", "NextMarker"), Scope=acl_scope, Limit=100
        )
        for acl in page.get("WebACLs", [])
    ]
    return sorted(acls, key=lambda acl: acl.name)


def read_cloudfront(scope: CallScope) -> list[CloudFrontDistribution]:
    """Distributions with their web ACL, viewer protocol policy, origins and tags."""
    calls = scope("cloudfront")
    summaries = [
        summary
        for page in calls.pages("list_distributions")
        for summary in page.get("DistributionList", {}).get("Items", [])
    ]
    distributions = fan_out(lambda summary: _distribution(calls, summary), summaries)
    return sorted(distributions, key=lambda distribution: distribution.id)


def _distribution(calls: ServiceCalls, summary: Response) -> CloudFrontDistribution:
    arn = summary["ARN"]
    tags = calls.attempt(_cloudfront_tags, calls, arn)
    config = calls.attempt(
        lambda: calls.call("get_distribution_config", Id=summary["Id"])["DistributionConfig"]
    )
    origins = summary.get("Origins", {}).get("Items", [])
    default = summary["DefaultCacheBehavior"]
    behaviors = [
        CacheBehavior(path="*", viewer_protocol_policy=default["ViewerProtocolPolicy"])
    ] + [
        CacheBehavior(
            path=behavior["PathPattern"],
            viewer_protocol_policy=behavior["ViewerProtocolPolicy"],
        )
        for behavior in summary.get("CacheBehaviors", {}).get("Items", []) or []
    ]
    return CloudFrontDistribution(
        id=summary["Id"],
        arn=arn,
        domain_name=summary["DomainName"],
        aliases=sorted(summary.get("Aliases", {}).get("Items", []) or []),
        enabled=summary.get("Enabled", True),
        web_acl_id=summary.get("WebACLId") or None,
        viewer_protocol_policy=default["ViewerProtocolPolicy"],
        origins=[origin["DomainName"] for origin in origins],
        price_class=summary.get("PriceClass"),
        origin_details=[_origin(origin) for origin in origins],
        behaviors=behaviors,
        logging=None if config is None else bool(config.get("Logging", {}).get("Enabled")),
        tags=tags or {},
        unread=(["tags"] if tags is None else []) + (["logging"] if config is None else []),
    )


def _origin(origin: Response) -> CloudFrontOrigin:
    s3_config = origin.get("S3OriginConfig")
    domain = origin["DomainName"]
    # Some endpoints drop an empty S3OriginConfig; an S3 REST host without a custom
    # origin config is an S3 origin all the same.
    s3_host = s3_config is not None or (
        "CustomOriginConfig" not in origin and s3_bucket_of(domain) is not None
    )
    return CloudFrontOrigin(
        id=origin["Id"],
        domain_name=domain,
        # A website endpoint is a custom origin to CloudFront: it cannot use OAC.
        s3=s3_host and ".s3-website" not in domain,
        oac_id=origin.get("OriginAccessControlId") or None,
        oai=(s3_config or {}).get("OriginAccessIdentity") or None,
    )


def _cloudfront_tags(calls: ServiceCalls, arn: str) -> dict[str, str]:
    response = calls.call("list_tags_for_resource", Resource=arn)
    return tag_dict(response.get("Tags", {}).get("Items", []))


def read_route53(scope: CallScope) -> list[HostedZone]:
    """Hosted zones with their record counts and tags."""
    calls = scope("route53")
    listed = [zone for page in calls.pages("list_hosted_zones") for zone in page["HostedZones"]]
    return sorted(fan_out(lambda zone: _zone(calls, zone), listed), key=lambda zone: zone.name)


def _zone(calls: ServiceCalls, zone: Response) -> HostedZone:
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    private = zone.get("Config", {}).get("PrivateZone", False)
    tags = calls.attempt(_zone_tags, calls, zone_id)
    # Private zones resolve only inside the account's VPCs: nobody outside can take them over.
    records = None if private else calls.attempt(_records, calls, zone_id)
    return HostedZone(
        id=zone_id,
        name=zone["Name"],
        private=private,
        record_count=zone.get("ResourceRecordSetCount", 0),
        records=records,
        tags=tags or {},
        unread=(["tags"] if tags is None else [])
        + (["records"] if records is None and not private else []),
    )


_TAKEOVER_TYPES = frozenset({"A", "AAAA", "CNAME"})


def _records(calls: ServiceCalls, zone_id: str) -> list[DnsRecord]:
    return [
        DnsRecord(
            name=record["Name"].rstrip("."),
            type=record["Type"],
            values=[entry["Value"] for entry in record.get("ResourceRecords", [])],
            alias=record.get("AliasTarget", {}).get("DNSName", "").rstrip(".") or None,
        )
        for page in calls.pages("list_resource_record_sets", HostedZoneId=zone_id)
        for record in page.get("ResourceRecordSets", [])
        if record["Type"] in _TAKEOVER_TYPES
    ]


def _zone_tags(calls: ServiceCalls, zone_id: str) -> dict[str, str]:
    response = calls.call("list_tags_for_resource", ResourceType="hostedzone", ResourceId=zone_id)
    return tag_dict(response.get("ResourceTagSet", {}).get("Tags", []))
