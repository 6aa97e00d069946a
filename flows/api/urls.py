from rest_framework.routers import SimpleRouter

from flows.api import views

app_name = "flows-api"

router = SimpleRouter()
router.register("systems", views.SystemViewSet)
router.register("flows", views.FlowViewSet)
urlpatterns = router.urls
