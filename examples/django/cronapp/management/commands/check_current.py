from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Placeholder for the real check_current job."

    def handle(self, *args, **options):
        self.stdout.write("check_current done")
