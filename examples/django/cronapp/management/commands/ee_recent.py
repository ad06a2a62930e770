from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Placeholder for the real ee_recent job."

    def handle(self, *args, **options):
        self.stdout.write("ee_recent done")
