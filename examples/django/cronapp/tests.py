import base64
import hashlib
import hmac
import time

from django.core.cache import cache
from django.test import SimpleTestCase, override_settings

from cronapp import views

TOKEN = "t0ken-for-tests"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def signed_headers(msg_id, body=b"", ts=None, secret=SECRET):
    ts = str(int(time.time()) if ts is None else ts)
    key = base64.b64decode(secret[len("whsec_"):])
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"HTTP_WEBHOOK_ID": msg_id, "HTTP_WEBHOOK_TIMESTAMP": ts, "HTTP_WEBHOOK_SIGNATURE": "v1," + sig}


@override_settings(CRON_TOKEN=TOKEN, CRONQ_SIGNING_SECRET="")
class CronEndpointTests(SimpleTestCase):
    def setUp(self):
        cache.clear()
        self.ran = []
        views.RUNNER = lambda *a: self.ran.append(a)

    def tearDown(self):
        views.RUNNER = None

    def post(self, path, key="every5min@2026-11-28T10:05:00Z", token=TOKEN, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
        if key:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        headers.update(extra)
        # cronq sends the job's body as is (none here): no form encoding.
        return self.client.post(path, data=b"", content_type="application/json", **headers)

    def test_accepts_the_token_and_starts_the_command(self):
        r = self.post("/cron/ee-recent")
        self.assertEqual(r.status_code, 202)
        self.assertEqual(self.ran, [("ee_recent",)])

    def test_all_four_template_endpoints(self):
        for path, cmd in [("/cron/ee-recent", ("ee_recent",)), ("/cron/parties-import", ("parties_import",)),
                          ("/cron/check-current", ("check_current",)), ("/cron/mop-recent?delta=25", ("mop_recent", "--delta", "25"))]:
            self.assertEqual(self.post(path, key=path).status_code, 202)
            self.assertEqual(self.ran[-1], cmd)

    def test_wrong_or_missing_token_is_401_and_runs_nothing(self):
        self.assertEqual(self.post("/cron/ee-recent", token="nope").status_code, 401)
        self.assertEqual(self.post("/cron/ee-recent", token=None).status_code, 401)
        self.assertEqual(self.ran, [])

    @override_settings(CRON_TOKEN="")
    def test_an_unset_server_token_authorizes_nothing(self):
        self.assertEqual(self.post("/cron/ee-recent", token="").status_code, 401)

    def test_a_duplicate_delivery_runs_once(self):
        self.assertEqual(self.post("/cron/ee-recent").status_code, 202)
        r = self.post("/cron/ee-recent")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["status"], "duplicate")
        self.assertEqual(len(self.ran), 1)

    def test_get_is_refused(self):
        self.assertEqual(self.client.get("/cron/ee-recent", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code, 405)

    @override_settings(CRONQ_SIGNING_SECRET=SECRET)
    def test_signature_valid_stale_and_forged(self):
        ok = self.post("/cron/ee-recent", key="k1", **signed_headers("k1"))
        self.assertEqual(ok.status_code, 202)
        stale = self.post("/cron/ee-recent", key="k2", **signed_headers("k2", ts=int(time.time()) - 3600))
        self.assertEqual(stale.status_code, 401)
        forged = self.post("/cron/ee-recent", key="k3", **signed_headers("k3", secret="whsec_" + base64.b64encode(b"x" * 32).decode()))
        self.assertEqual(forged.status_code, 401)
        unsigned = self.post("/cron/ee-recent", key="k4")
        self.assertEqual(unsigned.status_code, 401)
        self.assertEqual(len(self.ran), 1)

    @override_settings(CRON_TOKEN="", CRON_TOKENS=["old-token", TOKEN])
    def test_token_rotation_accepts_every_listed_token(self):
        self.assertEqual(self.post("/cron/ee-recent", key="r1", token="old-token").status_code, 202)
        self.assertEqual(self.post("/cron/ee-recent", key="r2", token=TOKEN).status_code, 202)
        self.assertEqual(self.post("/cron/ee-recent", key="r3", token="other").status_code, 401)
        self.assertEqual(len(self.ran), 2)

    @override_settings(CRONQ_SIGNING_SECRET="", CRONQ_SIGNING_SECRETS=[SECRET, "whsec_" + base64.b64encode(b"n" * 32).decode()])
    def test_signing_secret_rotation(self):
        new = "whsec_" + base64.b64encode(b"n" * 32).decode()
        other = "whsec_" + base64.b64encode(b"o" * 32).decode()
        self.assertEqual(self.post("/cron/ee-recent", key="s1", **signed_headers("s1")).status_code, 202)
        self.assertEqual(self.post("/cron/ee-recent", key="s2", **signed_headers("s2", secret=new)).status_code, 202)
        # cronq during its own rotation: two signatures, one of them known here.
        h_other = signed_headers("s3", secret=other)
        h_new = signed_headers("s3", secret=new)
        both = dict(h_other)
        both["HTTP_WEBHOOK_SIGNATURE"] = h_other["HTTP_WEBHOOK_SIGNATURE"] + " " + h_new["HTTP_WEBHOOK_SIGNATURE"]
        self.assertEqual(self.post("/cron/ee-recent", key="s3", **both).status_code, 202)
        self.assertEqual(self.post("/cron/ee-recent", key="s4", **signed_headers("s4", secret=other)).status_code, 401)
        self.assertEqual(len(self.ran), 3)
