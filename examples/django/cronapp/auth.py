"""Authentication for cronq's calls: Bearer token, optional Standard Webhooks signature, idempotency."""
import base64
import functools
import hashlib
import hmac
import time

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse

MAX_SKEW_SECONDS = 5 * 60


def _signature_ok(request, secret):
    msg_id = request.headers.get("webhook-id", "")
    timestamp = request.headers.get("webhook-timestamp", "")
    signatures = request.headers.get("webhook-signature", "")
    if not msg_id or not timestamp.isdigit() or not signatures:
        return False
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False  # stale or from the future: a replayed request
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(expected, sig.split(",", 1)[1])
        for sig in signatures.split(" ")
        if sig.startswith("v1,")
    )


def cron_endpoint(view):
    """Accepts only cronq (or another holder of the token), once per Idempotency-Key."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return JsonResponse({"error": "method not allowed"}, status=405)
        token = settings.CRON_TOKEN
        given = request.headers.get("Authorization", "")
        # Constant time, and a missing token on our side never authorizes anything.
        if not token or not hmac.compare_digest(given.encode(), ("Bearer " + token).encode()):
            return JsonResponse({"error": "unauthorized"}, status=401)
        secret = getattr(settings, "CRONQ_SIGNING_SECRET", "")
        if secret and not _signature_ok(request, secret):
            return JsonResponse({"error": "bad signature"}, status=401)
        key = request.headers.get("Idempotency-Key")
        if key:
            # add() is atomic: only the first delivery of a message id gets to run the job.
            if not cache.add("cronq:" + key, 1, timeout=settings.CRONQ_IDEMPOTENCY_TTL):
                return JsonResponse({"status": "duplicate", "idempotency_key": key}, status=200)
        return view(request, *args, **kwargs)

    return wrapper
