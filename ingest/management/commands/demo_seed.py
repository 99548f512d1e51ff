"""Seed the local demo S3 endpoint with a bucket of sample files."""

import gzip
import json

import boto3
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

BUCKET = "loadbay-demo"
DEMO_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
DEMO_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # noqa: S105 (AWS's documented example)

PROFILES = (
    "profile_id,first_name,last_name,email,phone,birth_date,loyalty_points\n"
    "P-1001,Ada,Lovelace,ada@example.com,+44 20 7946 0001,1815-12-10,120\n"
    "P-1002,Alan,Turing,alan@example.com,+44 20 7946 0002,1912-06-23,75\n"
    "P-1003,Grace,Hopper,grace@example.com,+1 202 555 0103,1906-12-09,310\n"
)
BAD_PROFILES = (
    "profile_id,first_name,last_name,email,phone,birth_date,loyalty_points\n"
    "P-2001,Katherine,Johnson,katherine@example.com,,1918-08-26,40\n"
    "P-2002,Margaret,Hamilton,not-an-email,,1936-08-17,lots\n"
)
ACCOUNTS = [
    {"account_id": "A-1", "name": "Acme Corp", "industry": "Manufacturing", "employees": 1200},
    {"account_id": "A-2", "name": "Globex", "industry": "Energy", "employees": 450},
]


class Command(BaseCommand):
    help = "Create the demo bucket on the local demo S3 endpoint and upload sample files."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.LOADBAY_DEMO:
            raise CommandError("LOADBAY_DEMO is off; the demo endpoint is only for local trials.")
        s3 = boto3.client(
            "s3",
            endpoint_url=settings.LOADBAY_DEMO_S3_URL,
            region_name="us-east-1",
            aws_access_key_id=DEMO_KEY_ID,
            aws_secret_access_key=DEMO_SECRET,
        )
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if BUCKET not in existing:
            s3.create_bucket(Bucket=BUCKET)
        files = {
            "profiles/incoming/profiles_2026-11-01.csv": PROFILES.encode(),
            "profiles/incoming/profiles_2026-11-02.csv.gz": gzip.compress(PROFILES.encode()),
            "profiles/incoming/profiles_broken.csv": BAD_PROFILES.encode(),
            "accounts/incoming/accounts.json": json.dumps(ACCOUNTS).encode(),
        }
        for key, body in files.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        self.stdout.write(
            f"Demo S3 at {settings.LOADBAY_DEMO_S3_URL}: bucket {BUCKET!r}, {len(files)} files. "
            f"Use Access Key ID {DEMO_KEY_ID} and Access Key Secret {DEMO_SECRET}, "
            f"S3 Endpoint URL {settings.LOADBAY_DEMO_S3_URL}, Source Files Directory Path "
            "profiles/incoming/."
        )
