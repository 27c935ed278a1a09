"""Service names: AWS product codes (`AmazonS3`, `awskms`) to the names reports and Cost Explorer
show (`Amazon Simple Storage Service`), so one service is one line whatever the source.

Legacy CUR writes the name in `product/ProductName`, CUR 2.0 inside its `product` map column
(`product_name`), FOCUS in `ServiceName`, and Cost Explorer groups by the same names. A line
without a name (CUR 2.0 fee, credit and negation rows often have an empty `product` map) has only
its product code: the table below names the common ones as AWS's own product names do (AWS price
list `productName` / legacy CUR `product/ProductName`, as of 2024); an unknown code stays a code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

# Keys of the product name inside CUR 2.0's `product` map (Data Exports writes `product_name`;
# exports queried with the legacy names keep `ProductName`).
PRODUCT_NAME_KEYS = ("product_name", "ProductName", "productName")

# Lower-cased product code -> the product name AWS writes for it. Cost Explorer splits EC2 in
# two (`Amazon Elastic Compute Cloud - Compute` and `EC2 - Other`) where reports say one name
# for both: a report line cannot tell those apart by its code, so EC2 keeps the report's name.
SERVICE_NAMES: Mapping[str, str] = {
    code.lower(): name
    for code, name in {
        "AmazonEC2": "Amazon Elastic Compute Cloud",
        "AmazonS3": "Amazon Simple Storage Service",
        "awskms": "AWS Key Management Service",
        "AWSDataTransfer": "AWS Data Transfer",
        "AmazonRDS": "Amazon Relational Database Service",
        "AWSLambda": "AWS Lambda",
        "AmazonDynamoDB": "Amazon DynamoDB",
        "AmazonCloudWatch": "AmazonCloudWatch",
        "AmazonVPC": "Amazon Virtual Private Cloud",
        "AWSELB": "Elastic Load Balancing",
        "AmazonEKS": "Amazon Elastic Container Service for Kubernetes",
        "AmazonECS": "Amazon Elastic Container Service",
        "AmazonECR": "Amazon EC2 Container Registry (ECR)",
        "AmazonEFS": "Amazon Elastic File System",
        "AmazonElastiCache": "Amazon ElastiCache",
        "AmazonRedshift": "Amazon Redshift",
        "AmazonRoute53": "Amazon Route 53",
        "AmazonCloudFront": "Amazon CloudFront",
        "AmazonSNS": "Amazon Simple Notification Service",
        "AWSQueueService": "Amazon Simple Queue Service",
        "AmazonSES": "Amazon Simple Email Service",
        "AmazonApiGateway": "Amazon API Gateway",
        "AmazonKinesis": "Amazon Kinesis",
        "AmazonKinesisFirehose": "Amazon Kinesis Firehose",
        "AmazonAthena": "Amazon Athena",
        "AWSGlue": "AWS Glue",
        "AmazonES": "Amazon OpenSearch Service",
        "AmazonSageMaker": "Amazon SageMaker",
        "AmazonGuardDuty": "Amazon GuardDuty",
        "AmazonInspectorV2": "Amazon Inspector",
        "AWSSecretsManager": "AWS Secrets Manager",
        "AWSConfig": "AWS Config",
        "AWSCloudTrail": "AWS CloudTrail",
        "AWSBackup": "AWS Backup",
        "AWSSystemsManager": "AWS Systems Manager",
        "AmazonStates": "AWS Step Functions",
        "AmazonCognito": "Amazon Cognito",
        "AmazonMQ": "Amazon MQ",
        "AmazonMSK": "Amazon Managed Streaming for Apache Kafka",
        "AmazonDocDB": "Amazon DocumentDB (with MongoDB compatibility)",
        "AWSDirectConnect": "AWS Direct Connect",
        "AWSShield": "AWS Shield",
        "awswaf": "AWS WAF",
        "AWSXRay": "AWS X-Ray",
        "AWSEvents": "CloudWatch Events",
        "AmazonLightsail": "Amazon Lightsail",
        "AWSCostExplorer": "AWS Cost Explorer",
        "ComputeSavingsPlans": "Savings Plans for AWS Compute usage",
        "AWSSupportBusiness": "AWS Support (Business)",
        "AWSSupportDeveloper": "AWS Support (Developer)",
        "AWSSupportEnterprise": "AWS Support (Enterprise)",
    }.items()
}

# `"product_name": "..."` inside the JSON text of the map (CSV exports): read in Arrow, not
# json.loads per row; the map holds dozens of attributes that differ row by row.
_NAME_IN_JSON = r'"(?:' + "|".join(PRODUCT_NAME_KEYS) + r')"\s*:\s*"(?P<name>(?:[^"\\]|\\.)*)"'


def service_name(product_code: str) -> str:
    """`AmazonS3` -> `Amazon Simple Storage Service`; an unknown code is kept as it is."""
    return SERVICE_NAMES.get(product_code.strip().lower(), product_code)


def names_for_codes(codes: pa.Array) -> pa.Array:
    """`service_name` over a column of product codes (each distinct code looked up once)."""
    if len(codes) == 0 or codes.null_count == len(codes):
        return codes
    encoded = codes.dictionary_encode()
    names = pa.array([service_name(c) for c in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(names, encoded.indices)


def product_names(product: pa.Array | None, length: int) -> pa.Array:
    """The product name inside CUR 2.0's `product` column: a Parquet map<string, string>, or
    the JSON text CSV exports write. Rows without one are null."""
    if product is None:
        return pa.nulls(length, pa.string())
    if isinstance(product, pa.ChunkedArray):
        product = product.combine_chunks()
    if pa.types.is_map(product.type):
        found = pa.nulls(length, pa.string())
        for key in PRODUCT_NAME_KEYS:
            value = pc.map_lookup(product, pa.scalar(key, product.type.key_type), "first")
            found = pc.coalesce(found, value.cast(pa.string()))
        return _blank_is_null(found)
    if not (pa.types.is_string(product.type) or pa.types.is_large_string(product.type)):
        return pa.nulls(length, pa.string())
    matched = pc.extract_regex(product.cast(pa.string()), _NAME_IN_JSON)
    names = pc.struct_field(matched, [0])
    if pc.any(pc.fill_null(pc.match_substring(names, "\\"), False)).as_py():
        names = _unescaped(names)
    return _blank_is_null(names)


def _unescaped(names: pa.Array) -> pa.Array:
    """JSON escapes (`\\u00e9`, `\\"`) in the few names that have them."""
    encoded = names.dictionary_encode()
    decoded = []
    for raw in encoded.dictionary.to_pylist():
        try:
            decoded.append(json.loads(f'"{raw}"'))
        except ValueError:
            decoded.append(raw)
    return pc.take(pa.array(decoded, pa.string()), encoded.indices)


def _blank_is_null(names: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(names)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
