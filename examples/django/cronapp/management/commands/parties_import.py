from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Placeholder for the real parties_import job."

    def handle(self, *args, **options):
        self.stdout.write("parties_import done")
