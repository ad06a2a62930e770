from django.urls import path

from cronapp import views

urlpatterns = [
    path("cron/ee-recent", views.ee_recent),
    path("cron/parties-import", views.parties_import),
    path("cron/check-current", views.check_current),
    path("cron/mop-recent", views.mop_recent),
]
