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


def _as_list(value):
    """A setting that may be one string, a comma/space-separated string, or a list: for rotation."""
    if isinstance(value, (list, tuple)):
        return [v for v in value if v]
    return [v for v in str(value or "").replace(",", " ").split() if v]


def _key(secret):
    if not secret.startswith("whsec_"):
        raise ValueError("CRONQ_SIGNING_SECRET(S) must be whsec_ + base64 (the Standard Webhooks format)")
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def _signature_ok(request, secrets):
    msg_id = request.headers.get("webhook-id", "")
    timestamp = request.headers.get("webhook-timestamp", "")
    signatures = request.headers.get("webhook-signature", "")
    if not msg_id or not timestamp.isdigit() or not signatures:
        return False
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False  # stale or from the future: a replayed request
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + request.body
    given = [sig.split(",", 1)[1] for sig in signatures.split(" ") if sig.startswith("v1,")]
    # Any of our secrets against any of the signatures: cronq sends one per secret during a rotation,
    # and this side may know the old and the new secret while the two are rolled out.
    for secret in secrets:
        expected = base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, g) for g in given):
            return True
    return False


def _token_ok(given):
    # Constant time against every accepted token (old and new during a rotation); an empty list on our
    # side never authorizes anything.
    tokens = _as_list(getattr(settings, "CRON_TOKENS", None)) or _as_list(getattr(settings, "CRON_TOKEN", ""))
    ok = False
    for token in tokens:
        ok |= hmac.compare_digest(given.encode(), ("Bearer " + token).encode())
    return ok


def cron_endpoint(view):
    """Accepts only cronq (or another holder of the token), once per Idempotency-Key."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method != "POST":
            return JsonResponse({"error": "method not allowed"}, status=405)
        if not _token_ok(request.headers.get("Authorization", "")):
            return JsonResponse({"error": "unauthorized"}, status=401)
        secrets = _as_list(getattr(settings, "CRONQ_SIGNING_SECRETS", None)) or _as_list(
            getattr(settings, "CRONQ_SIGNING_SECRET", ""))
        if secrets and not _signature_ok(request, secrets):
            return JsonResponse({"error": "bad signature"}, status=401)
        key = request.headers.get("Idempotency-Key")
        if key:
            # add() is atomic: only the first delivery of a message id gets to run the job.
            if not cache.add("cronq:" + key, 1, timeout=settings.CRONQ_IDEMPOTENCY_TTL):
                return JsonResponse({"status": "duplicate", "idempotency_key": key}, status=200)
        return view(request, *args, **kwargs)

    return wrapper
