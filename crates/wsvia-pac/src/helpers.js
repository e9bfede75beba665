// The standard PAC helper functions (Netscape's PAC specification, as browsers provide
// them), written for wsvia. dnsResolve and myIpAddress call into Rust.
function isPlainHostName(host) { return host.indexOf('.') < 0; }
function dnsDomainIs(host, domain) {
  host = String(host).toLowerCase(); domain = String(domain).toLowerCase();
  return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}
function localHostOrDomainIs(host, hostdom) {
  host = String(host).toLowerCase(); hostdom = String(hostdom).toLowerCase();
  return host === hostdom || (host.indexOf('.') < 0 && hostdom.split('.')[0] === host);
}
function dnsResolve(host) { var a = __wsvia_resolve(String(host)); return a === '' ? null : a; }
function isResolvable(host) { return dnsResolve(host) !== null; }
function myIpAddress() { return __wsvia_my_ip(); }
function dnsDomainLevels(host) { var n = 0; for (var i = 0; i < host.length; i++) if (host.charAt(i) === '.') n++; return n; }
function __wsvia_ipv4(text) {
  var parts = String(text).split('.');
  if (parts.length !== 4) return null;
  var n = 0;
  for (var i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(parts[i])) return null;
    var b = parseInt(parts[i], 10);
    if (b > 255) return null;
    n = n * 256 + b;
  }
  return n;
}
function convert_addr(ipchars) { var n = __wsvia_ipv4(ipchars); return n === null ? 0 : n; }
function isInNet(host, pattern, mask) {
  var ip = __wsvia_ipv4(host);
  if (ip === null) { var r = dnsResolve(host); if (r === null) return false; ip = __wsvia_ipv4(r); if (ip === null) return false; }
  var p = __wsvia_ipv4(pattern), m = __wsvia_ipv4(mask);
  if (p === null || m === null) return false;
  // Unsigned 32-bit arithmetic: compare octet by octet.
  for (var shift = 24; shift >= 0; shift -= 8) {
    var d = 1 << shift;
    var ib = Math.floor(ip / d) % 256, pb = Math.floor(p / d) % 256, mb = Math.floor(m / d) % 256;
    if ((ib & mb) !== (pb & mb)) return false;
  }
  return true;
}
function shExpMatch(str, shexp) {
  var re = '^';
  for (var i = 0; i < shexp.length; i++) {
    var c = shexp.charAt(i);
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if ('\\^$.|+()[]{}/'.indexOf(c) >= 0) re += '\\' + c;
    else re += c;
  }
  return new RegExp(re + '$').test(String(str));
}
var __wsvia_days = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
var __wsvia_months = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
function __wsvia_gmt(args) { return args.length > 0 && args[args.length - 1] === 'GMT'; }
function __wsvia_now(gmt) { return new Date(); }
function weekdayRange() {
  var gmt = __wsvia_gmt(arguments), n = arguments.length - (gmt ? 1 : 0);
  var now = __wsvia_now(gmt), today = gmt ? now.getUTCDay() : now.getDay();
  var a = __wsvia_days.indexOf(arguments[0]);
  if (n === 1) return today === a;
  var b = __wsvia_days.indexOf(arguments[1]);
  return a <= b ? (today >= a && today <= b) : (today >= a || today <= b);
}
function dateRange() {
  var gmt = __wsvia_gmt(arguments), n = arguments.length - (gmt ? 1 : 0);
  var now = __wsvia_now(gmt);
  var day = gmt ? now.getUTCDate() : now.getDate(), month = gmt ? now.getUTCMonth() : now.getMonth(), year = gmt ? now.getUTCFullYear() : now.getFullYear();
  var args = Array.prototype.slice.call(arguments, 0, n);
  function kind(v) { if (typeof v === 'string') return 'm'; return v > 31 ? 'y' : 'd'; }
  function value(v) { return typeof v === 'string' ? __wsvia_months.indexOf(v) : v; }
  if (n === 1) { var k = kind(args[0]), v = value(args[0]); return k === 'd' ? day === v : k === 'm' ? month === v : year === v; }
  var half = n / 2, from = args.slice(0, half), to = args.slice(half);
  function stamp(parts) {
    var y = year, m = month, d = day;
    for (var i = 0; i < parts.length; i++) { var k = kind(parts[i]), v = value(parts[i]); if (k === 'y') y = v; else if (k === 'm') m = v; else d = v; }
    return y * 10000 + m * 100 + d;
  }
  var nowStamp = year * 10000 + month * 100 + day;
  return nowStamp >= stamp(from) && nowStamp <= stamp(to);
}
function timeRange() {
  var gmt = __wsvia_gmt(arguments), n = arguments.length - (gmt ? 1 : 0);
  var now = __wsvia_now(gmt);
  var secs = (gmt ? now.getUTCHours() : now.getHours()) * 3600 + (gmt ? now.getUTCMinutes() : now.getMinutes()) * 60 + (gmt ? now.getUTCSeconds() : now.getSeconds());
  var a = Array.prototype.slice.call(arguments, 0, n);
  if (n === 1) return Math.floor(secs / 3600) === a[0];
  var from, to;
  if (n === 2) { from = a[0] * 3600; to = a[1] * 3600 + 3599; }
  else if (n === 4) { from = a[0] * 3600 + a[1] * 60; to = a[2] * 3600 + a[3] * 60 + 59; }
  else { from = a[0] * 3600 + a[1] * 60 + a[2]; to = a[3] * 3600 + a[4] * 60 + a[5]; }
  return from <= to ? (secs >= from && secs <= to) : (secs >= from || secs <= to);
}
function alert(message) {}
