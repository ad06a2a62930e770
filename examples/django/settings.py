"""Minimal settings for the example (and its tests)."""
import os

SECRET_KEY = "example-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "urls"
INSTALLED_APPS = ["cronapp"]
MIDDLEWARE = []
DATABASES = {}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
USE_TZ = True
CRON_TOKEN = os.environ.get("ERIFY_CRON_TOKEN", "")
# Rotation without downtime: list the new and the old token (comma-separated in the environment),
# switch cronq to the new one, then drop the old one here.
CRON_TOKENS = os.environ.get("ERIFY_CRON_TOKENS", "")
CRONQ_SIGNING_SECRET = os.environ.get("CRONQ_SIGNING_SECRET", "")
# Likewise for Standard Webhooks secrets (cronq's `signing_secrets` sends one signature per secret).
CRONQ_SIGNING_SECRETS = os.environ.get("CRONQ_SIGNING_SECRETS", "")
# How long an Idempotency-Key is remembered (longer than cronq's max_duration).
CRONQ_IDEMPOTENCY_TTL = 7 * 24 * 3600
