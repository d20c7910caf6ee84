# The Lifeboat worker image. The programs it drives (etcdctl, etcdutl, velero) and runs for scratch
# restores (etcd, kube-apiserver: match the versions your clusters run) are built by the same pinned
# script the lab uses.
FROM golang:1.26-bookworm AS tools
COPY lab/install-tools.sh /src/lab/install-tools.sh
RUN LIFEBOAT_CACHE=/opt/lifeboat bash /src/lab/install-tools.sh etcd velero kubernetes \
 && mkdir -p /out && cp /opt/lifeboat/tools/etcd-*/bin/etcd /opt/lifeboat/tools/etcd-*/bin/etcdctl /opt/lifeboat/tools/etcd-*/bin/etcdutl \
    /opt/lifeboat/tools/velero-*/bin/velero /opt/lifeboat/tools/kubernetes-*/bin/kube-apiserver /out/

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The lock lists only the optional packages of the platform it was made on (see scripts/ensure-deps.sh).
RUN npm install --no-audit --no-fund --no-save
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=tools /out/ /usr/local/bin/
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
USER node
# /metrics, /healthz, /readyz (9464) and the Temporal SDK's runtime metrics (9465), on every interface of the container.
ENV LIFEBOAT_METRICS_HOST=0.0.0.0
EXPOSE 9464 9465
ENTRYPOINT ["node", "bin/lifeboat.js"]
CMD ["worker"]
