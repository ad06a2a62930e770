from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Placeholder for the real mop_recent job."

    def add_arguments(self, parser):
        parser.add_argument("--delta", type=int, default=25)

    def handle(self, *args, **options):
        self.stdout.write(f"mop_recent delta={options['delta']} done")
