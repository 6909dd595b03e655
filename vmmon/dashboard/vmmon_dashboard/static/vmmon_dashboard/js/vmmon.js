/* vmmon-dashboard: live values, charts and actions of vmmon's panels.
 * Charts are drawn with d3 (v3), which Horizon ships and loads on every page.
 * The browser talks to Horizon only: Horizon calls vmmon with the user's
 * token and relays the live stream. */
(function (horizon, $, d3) {
  'use strict';

  var vmmon = horizon.vmmon = {};
  var W = 360, H = 150, M = {top: 8, right: 10, bottom: 22, left: 52};
  var COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
                '#8c564b', '#e377c2', '#17becf'];
  var SIZES = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  var RAW_KEEP_MS = 3600 * 1000;

  function csrf() {
    return $('#vmmon-action-form input[name=csrfmiddlewaretoken]').val();
  }

  function alertError(text) {
    horizon.alert('error', text);
  }

  vmmon.human = function (value, unit) {
    if (value === null || value === undefined) { return '-'; }
    unit = unit || '';
    if (unit === 'B' || unit === 'B/s') {
      var v = value, i = 0;
      while (Math.abs(v) >= 1024 && i < SIZES.length - 1) { v /= 1024; i++; }
      return num(v) + ' ' + SIZES[i] + (unit === 'B/s' ? '/s' : '');
    }
    return (num(value) + ' ' + unit).trim();
  };

  /* An API timestamp as "YYYY-MM-DD HH:MM:SS" (UTC). */
  vmmon.when = function (ts) {
    return String(ts || '').replace('T', ' ').slice(0, 19);
  };

  function num(v) {
    if (v === Math.round(v) && Math.abs(v) < 1e6) { return String(v); }
    if (Math.abs(v) >= 100) { return v.toFixed(0); }
    if (Math.abs(v) >= 10) { return v.toFixed(1); }
    return v.toFixed(2);
  }

  /* The instance table: its latest values refreshed every few seconds. */
  vmmon.table = function (sel) {
    var $root = $(sel);
    if (!$root.length) { return; }
    var url = $root.data('latest-url');
    var every = (parseInt($root.data('refresh-s'), 10) || 10) * 1000;
    function refresh() {
      var ids = $root.find('tr[data-object-id]').map(function () {
        return $(this).attr('data-object-id');
      }).get();
      if (!ids.length) { return; }
      $.getJSON(url, {ids: ids.join(',')}).done(function (data) {
        $.each(data.instances || {}, function (id, d) {
          var $row = $root.find('tr[data-object-id="' + id + '"]');
          $.each(d.cells, function (metric, text) {
            $row.find('.vmmon-live[data-vmmon-metric="' + metric + '"]')
              .text(text);
          });
          var css = {up: 'text-success', stale: 'text-warning',
                     down: 'text-danger'}[d.agent_status] || 'text-muted';
          $row.find('.vmmon-agent').text(d.agent)
            .attr('class', 'vmmon-agent ' + css);
        });
        $root.attr('data-refreshed', new Date().toISOString());
      });
    }
    setInterval(refresh, every);
  };

  /* One chart: a line per device. */
  function Chart($parent, metric, unit) {
    this.metric = metric;
    this.unit = unit || '';
    this.series = {};  // device -> [[Date, value], ...]
    this.$el = $('<div class="col-sm-6 col-md-4 vmmon-chart"></div>')
      .attr('data-metric', metric).appendTo($parent);
    this.$title = $('<div class="vmmon-chart-title"></div>')
      .text(metric).appendTo(this.$el);
    this.svg = d3.select(this.$el[0]).append('svg')
      .attr('viewBox', '0 0 ' + W + ' ' + H)
      .attr('preserveAspectRatio', 'xMidYMid meet')
      .attr('class', 'vmmon-svg');
    this.$legend = $('<div class="vmmon-legend"></div>').appendTo(this.$el);
  }

  Chart.prototype.set = function (series, unit) {
    var self = this;
    self.series = {};
    if (unit) { self.unit = unit; }
    $.each(series || [], function (_i, s) {
      if (s.unit) { self.unit = s.unit; }
      self.series[s.device || ''] = $.map(s.points || [], function (p) {
        return [[new Date(p.timestamp), p.value]];
      });
    });
  };

  Chart.prototype.add = function (device, when, value, unit) {
    var pts = this.series[device || ''];
    if (!pts) { pts = this.series[device || ''] = []; }
    if (unit) { this.unit = unit; }
    pts.push([when, value]);
    var oldest = when.getTime() - RAW_KEEP_MS;
    while (pts.length && pts[0][0].getTime() < oldest) { pts.shift(); }
  };

  Chart.prototype.points = function () {
    var n = 0;
    $.each(this.series, function (_d, pts) { n += pts.length; });
    return n;
  };

  Chart.prototype.draw = function (from, to) {
    var self = this, all = [];
    $.each(self.series, function (_d, pts) { all = all.concat(pts); });
    self.svg.selectAll('*').remove();
    self.$title.text(self.metric + (self.unit ? ' (' + self.unit + ')' : ''));
    self.$el.attr('data-points', all.length);
    if (!all.length) {
      self.svg.append('text').attr('x', W / 2).attr('y', H / 2)
        .attr('text-anchor', 'middle').attr('class', 'vmmon-nodata')
        .text(gettext('No data in this range'));
      self.$legend.empty();
      return;
    }
    var ymax = d3.max(all, function (p) { return p[1]; });
    var ymin = Math.min(0, d3.min(all, function (p) { return p[1]; }));
    if (ymax === ymin) { ymax = ymin + 1; }
    var x = d3.time.scale().domain([from, to])
      .range([M.left, W - M.right]);
    var y = d3.scale.linear().domain([ymin, ymax]).nice()
      .range([H - M.bottom, M.top]);
    // Ticks without the unit (the title has it), short enough to fit.
    var si = d3.format('.3s');
    var fmt = function (v) {
      if (self.unit === 'B' || self.unit === 'B/s') {
        return vmmon.human(v, 'B');
      }
      return Math.abs(v) < 1000 ? String(+v.toFixed(2)) : si(v);
    };
    self.svg.append('g').attr('class', 'vmmon-axis')
      .attr('transform', 'translate(0,' + (H - M.bottom) + ')')
      .call(d3.svg.axis().scale(x).orient('bottom').ticks(4));
    self.svg.append('g').attr('class', 'vmmon-axis')
      .attr('transform', 'translate(' + M.left + ',0)')
      .call(d3.svg.axis().scale(y).orient('left').ticks(4).tickFormat(fmt));
    var line = d3.svg.line()
      .x(function (p) { return x(p[0]); })
      .y(function (p) { return y(p[1]); });
    self.$legend.empty();
    var devices = Object.keys(self.series).sort();
    $.each(devices, function (i, dev) {
      var pts = self.series[dev].slice().sort(function (a, b) {
        return a[0] - b[0];
      });
      var color = COLORS[i % COLORS.length];
      self.svg.append('path').datum(pts).attr('class', 'vmmon-line')
        .attr('data-device', dev).attr('data-points', pts.length)
        .attr('stroke', color).attr('fill', 'none').attr('d', line);
      if (pts.length === 1) {
        self.svg.append('circle').attr('class', 'vmmon-dot')
          .attr('cx', x(pts[0][0])).attr('cy', y(pts[0][1])).attr('r', 2.5)
          .attr('fill', color);
      }
      if (dev) {
        $('<span class="vmmon-legend-item"></span>').text(dev)
          .css('border-color', color).appendTo(self.$legend);
      }
    });
  };

  /* The instance page: charts, live values, actions. */
  vmmon.instance = function (sel) {
    var $root = $(sel);
    if (!$root.length) { return; }
    var urls = $root.data('urls');
    var charts = {};
    var range = '1h';
    var spans = {'1h': 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400};
    var $charts = $('#vmmon-charts'), $status = $('#vmmon-charts-status');

    function window_() {
      var to = new Date();
      return [new Date(to.getTime() - spans[range] * 1000), to];
    }

    function redraw(chart) {
      var w = window_();
      chart.draw(w[0], w[1]);
    }

    function load() {
      $status.text(gettext('Loading...'));
      $.getJSON(urls.measures, {range: range}).done(function (data) {
        $charts.empty();
        charts = {};
        $.each(data.charts || [], function (_i, c) {
          var ch = charts[c.metric] = new Chart($charts, c.metric);
          if (c.error) {
            ch.$el.append($('<div class="text-danger"></div>').text(c.error));
            return;
          }
          ch.set(c.series);
          redraw(ch);
        });
        $status.text(data.charts && data.charts.length ? '' :
                     gettext('vmmon has no metrics for this instance yet.'));
        $root.attr('data-charts-loaded', range);
      }).fail(function (xhr) {
        var err = (xhr.responseJSON || {}).error ||
          gettext('The charts could not be loaded.');
        $status.text(err);
        alertError(err);
      });
    }

    $root.on('click', '.vmmon-range', function () {
      $('.vmmon-range').removeClass('active');
      $(this).addClass('active');
      range = $(this).data('range');
      load();
    });
    load();

    // Live values through Horizon's relay of vmmon's stream.
    var count = 0;
    function onSample(e) {
      var s;
      try { s = JSON.parse(e.data); } catch (err) { return; }
      var when = new Date(s.timestamp);
      count += 1;
      $('#vmmon-live-status').text(gettext('live') + ', ' +
        when.toLocaleTimeString()).attr('class', 'text-success');
      $('#vmmon-live-count').attr('data-count', count)
        .text('(' + count + ' ' + gettext('samples') + ')');
      var touched = {};
      $.each(s.metrics || [], function (_i, m) {
        var dev = m.device || '';
        $('.vmmon-value[data-metric="' + m.name + '"][data-device="' +
          dev + '"]').text(vmmon.human(m.value, m.unit))
          .attr('data-live', count);
        $('.vmmon-at[data-metric="' + m.name + '"][data-device="' +
          dev + '"]').text(vmmon.when(s.timestamp));
        if (range === '1h' && charts[m.name]) {
          charts[m.name].add(dev, when, m.value, m.unit);
          touched[m.name] = true;
        }
      });
      if (!$('#vmmon-charts').is(':visible')) { return; }
      $.each(touched, function (name) { redraw(charts[name]); });
    }

    if (window.EventSource && urls.stream) {
      var es = new EventSource(urls.stream);
      es.addEventListener('sample', onSample);
      es.addEventListener('error', function (e) {
        if (e.data) {
          var d = {};
          try { d = JSON.parse(e.data); } catch (err) { d = {}; }
          $('#vmmon-live-status').text(d.error || d.detail || 'error')
            .attr('class', 'text-warning');
        } else {
          $('#vmmon-live-status').text(gettext('reconnecting'))
            .attr('class', 'text-muted');
        }
      });
    }
    // Charts drawn while their tab was hidden are redrawn when shown.
    $(document).on('shown.bs.tab', function () {
      $.each(charts, function (_n, ch) { redraw(ch); });
    });

    // Actions: confirm, run, follow until Nova's notification settles them.
    $root.on('click', '.vmmon-action', function () {
      var key = $(this).data('action'), label = $(this).data('label');
      var name = $('.detail-title .h1').text().trim();
      var modal = horizon.modals.create(
        interpolate(gettext('Confirm %s'), [label]),
        interpolate(gettext('%(action)s instance %(name)s?'),
                    {action: label, name: name}, true),
        label);
      modal.attr('id', 'vmmon-confirm');
      modal.modal();
      modal.find('.btn-primary').click(function (evt) {
        evt.preventDefault();
        modal.modal('hide');
        run(key, label);
      });
    });

    function progress(text, css) {
      $('#vmmon-action-progress').attr('class', 'vmmon-progress ' + css)
        .text(text);
    }

    function run(key, label) {
      $('.vmmon-action').prop('disabled', true);
      progress(interpolate(gettext('%s: requested'), [label]), 'text-info');
      $.ajax({url: urls.action, type: 'POST',
              data: {action: key, csrfmiddlewaretoken: csrf()},
              dataType: 'json'})
        .done(function (data) { follow(data.action, label); })
        .fail(function (xhr) {
          var err = (xhr.responseJSON || {}).error ||
            gettext('The action could not be requested.');
          progress(err, 'text-danger');
          alertError(err);
          $('.vmmon-action').prop('disabled', false);
        });
    }

    function follow(action, label) {
      var tries = 0;
      function poll() {
        $.getJSON(urls.action, {id: action.id}).done(function (data) {
          var a = data.action || {};
          $('#vmmon-state').text(data.state || '');
          $root.attr('data-action-status', a.status);
          if (a.status === 'pending') {
            progress(interpolate(gettext('%(label)s: pending (Nova: %(state)s%(task)s)'),
              {label: label, state: data.state,
               task: data.task_state ? ', ' + data.task_state : ''}, true),
              'text-info');
            tries += 1;
            setTimeout(poll, tries < 20 ? 1500 : 5000);
            return;
          }
          var ok = a.status === 'succeeded';
          progress(interpolate(gettext('%(label)s: %(status)s%(msg)s'),
            {label: label, status: a.status,
             msg: a.message ? ' (' + a.message + ')' : ''}, true),
            ok ? 'text-success' : 'text-danger');
          if (!ok) { alertError($('#vmmon-action-progress').text()); }
          // The page again, with the buttons the new state allows.
          setTimeout(function () {
            window.location.href = urls.detail + '?settled=' +
              encodeURIComponent(a.status);
          }, 1500);
        }).fail(function () { setTimeout(poll, 5000); });
      }
      poll();
    }
  };
}(horizon, jQuery, d3));
