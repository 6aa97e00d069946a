"""``/api/gdpr/…`` (namespace ``gdpr-api``): other parts of the GDPR app register their viewsets here."""

from rest_framework.routers import SimpleRouter

from gdpr.api import breaches, register_views, requests

app_name = "gdpr-api"

router = SimpleRouter()
router.register("activities", register_views.ProcessingActivityViewSet)
router.register("data-categories", register_views.DataCategoryViewSet)
router.register("purposes", register_views.PurposeViewSet)
router.register("breaches", breaches.BreachViewSet)
router.register("retention-rules", breaches.RetentionRuleViewSet)
router.register("requests", requests.RequestViewSet)
router.register("suppression", requests.SuppressedSubjectViewSet)
urlpatterns = router.urls
