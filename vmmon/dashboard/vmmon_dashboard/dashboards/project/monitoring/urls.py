from django.urls import re_path

from vmmon_dashboard.dashboards.project.monitoring import views

INSTANCE = r'^(?P<instance_id>[^/]+)/'

urlpatterns = [
    re_path(r'^$', views.IndexView.as_view(), name='index'),
    re_path(r'^latest/$', views.LatestView.as_view(), name='latest'),
    re_path(INSTANCE + r'$', views.DetailView.as_view(), name='detail'),
    re_path(INSTANCE + r'measures/$', views.MeasuresView.as_view(),
            name='measures'),
    re_path(INSTANCE + r'stream/$', views.StreamView.as_view(),
            name='stream'),
    re_path(INSTANCE + r'action/$', views.ActionView.as_view(),
            name='action'),
]
