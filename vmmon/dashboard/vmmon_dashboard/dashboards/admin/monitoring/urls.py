from django.urls import re_path

from vmmon_dashboard.dashboards.admin.monitoring import views

urlpatterns = [
    re_path(r'^$', views.IndexView.as_view(), name='index'),
]
