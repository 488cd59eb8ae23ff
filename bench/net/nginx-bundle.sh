#!/bin/bash
# nginx-bundle.sh DIR NETNS PAGE: an OCI bundle in DIR running the host's
# nginx (Debian's) in a crun container whose network namespace is NETNS,
# serving PAGE as / with one worker: the peer the http guest is measured
# against (docs/network.md). The rootfs holds nginx, its libraries and a
# minimal configuration, copied from the host.
set -eu
dir=$1
netns=$2
page=$3
rm -rf "$dir"
root=$dir/rootfs
mkdir -p "$root"/{etc/nginx,var/www,var/lib/nginx,tmp,run,dev,proc,usr/sbin}
cp /usr/sbin/nginx "$root/usr/sbin/"
for lib in $(ldd /usr/sbin/nginx | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
echo 'root:x:0:0::/:/bin/false' >"$root/etc/passwd"
echo 'nobody:x:65534:65534::/:/bin/false' >>"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo 'nogroup:x:65534:' >>"$root/etc/group"
cp "$page" "$root/var/www/index.html"
cat >"$root/etc/nginx/nginx.conf" <<'EOF'
worker_processes 1;
user root root;
daemon off;
master_process off;
error_log stderr warn;
pid /run/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    default_type text/html;
    keepalive_requests 1000000;
    client_body_temp_path /tmp;
    proxy_temp_path /tmp;
    fastcgi_temp_path /tmp;
    uwsgi_temp_path /tmp;
    scgi_temp_path /tmp;
    server {
        listen 80;
        root /var/www;
    }
}
EOF
(cd "$dir" && crun spec)
jq --arg ns "/run/netns/$netns" '
    .process.terminal = false |
    .process.args = ["/usr/sbin/nginx", "-c", "/etc/nginx/nginx.conf"] |
    .root.readonly = false |
    .linux.namespaces = [.linux.namespaces[] | select(.type != "network")] +
        [{"type": "network", "path": $ns}]
' "$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
