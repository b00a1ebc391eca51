"""The AWS account: an inventory read through boto3 or replayed from a snapshot, as facts."""

from .collector import AwsInventoryCollector

__all__ = ["AwsInventoryCollector"]
