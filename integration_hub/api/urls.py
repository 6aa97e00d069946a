from rest_framework.routers import SimpleRouter

from integration_hub.api import views

app_name = "hub-api"

router = SimpleRouter()
router.register("audit", views.AuditEntryViewSet)
router.register("users/tokens", views.APITokenViewSet)
router.register("users", views.UserViewSet)
urlpatterns = router.urls
