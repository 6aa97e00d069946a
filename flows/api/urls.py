from rest_framework.routers import SimpleRouter

from flows.api import views

app_name = "flows-api"

router = SimpleRouter()
router.register("systems", views.SystemViewSet)
router.register("flows", views.FlowViewSet)
router.register("links", views.RecordLinkViewSet)
router.register("failed-records", views.FailedRecordViewSet)
router.register("runs", views.RunViewSet)
urlpatterns = router.urls
