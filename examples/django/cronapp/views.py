"""The template's cron endpoints. Each starts its management command without blocking and answers 202."""
import subprocess
import sys
import threading

from django.core.management import call_command
from django.http import JsonResponse

from .auth import cron_endpoint

# Tests replace this to observe what would run.
RUNNER = None


def _start(command, *args):
    if RUNNER is not None:
        RUNNER(command, *args)
    else:
        # A thread keeps the example self-contained; in production prefer a process
        # (subprocess.Popen([sys.executable, "manage.py", command, *args])) or a task queue.
        threading.Thread(target=call_command, args=(command, *args), daemon=True).start()
    return JsonResponse({"status": "accepted", "command": command}, status=202)


@cron_endpoint
def ee_recent(request):
    return _start("ee_recent")


@cron_endpoint
def parties_import(request):
    return _start("parties_import")


@cron_endpoint
def check_current(request):
    return _start("check_current")


@cron_endpoint
def mop_recent(request):
    delta = request.GET.get("delta", "25")
    if not delta.isdigit():
        return JsonResponse({"error": "delta must be a number"}, status=400)
    return _start("mop_recent", "--delta", delta)
