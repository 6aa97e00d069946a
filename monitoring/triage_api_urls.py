from monitoring.triage_api import router

app_name = "monitoring-api"

urlpatterns = router.urls
