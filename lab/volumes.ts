// Volumes in the lab, as far as a lab without storage can have them. No CSI driver runs, but the
// control plane's side of storage is real: a PersistentVolumeClaim binds to a PersistentVolume the
// lab creates ahead of it (pre-bound through its claimRef, as an administrator's static volumes are),
// the scheduler places the Pod only once its claim is bound, and kube-controller-manager's
// attach/detach controller, seeing a CSI volume on a Node whose kubelet asked for controller-managed
// attachment, creates the VolumeAttachment naming that Node, and deletes it (detach) once the Pod is
// gone from the Node, at once when the Node is tainted out of service. What a CSI driver's
// external-attacher does, answering `status.attached: true`, kwok does through a Stage
// (kwokVolumeAttachStage); without it the controller's attach call would wait two minutes for the
// answer and hold every other operation on the volume, its detach included. Nothing is mounted: kwok
// runs Pods without containers, and no Node reports volumes in use.
import type { V1PersistentVolume } from '@kubernetes/client-node';

/** The lab's storage class: static volumes only, bound as soon as a claim for one exists. */
export const labStorageClass = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: 'lab-static' },
  provisioner: 'kubernetes.io/no-provisioner',
  volumeBindingMode: 'Immediate',
  reclaimPolicy: 'Retain',
} as const;

/** The CSI driver name the lab's volumes name: the attach/detach controller needs no driver object to attach them. */
export const labCsiDriver = 'lab.csi.lifeboat.io';

/** The label naming the namespace a static volume was made for: what cleans a test's volumes up. */
export const labVolumeOfLabel = 'lifeboat.io/lab-volume-of';

/** The name of the static volume for `claim` in `namespace`: one per claim, so a namespace's volumes are found by name. */
export const staticVolumeName = (namespace: string, claim: string) => `lab-${namespace}-${claim}`.slice(0, 253);

/**
 * A static CSI PersistentVolume pre-bound to `namespace/claim`. Retained when the claim goes: a
 * Released volume keeps its data (and its name), as a real administrator's volume would.
 */
export function staticVolume(namespace: string, claim: string, size = '1Gi'): V1PersistentVolume {
  const name = staticVolumeName(namespace, claim);
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels: { [labVolumeOfLabel]: namespace } },
    spec: {
      capacity: { storage: size },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: labStorageClass.metadata.name,
      claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: claim },
      csi: { driver: labCsiDriver, volumeHandle: name, fsType: 'ext4' },
    },
  };
}

/** The claims a StatefulSet's template makes: `<template>-<set>-<ordinal>`. */
export const statefulSetClaims = (template: string, set: string, replicas: number) =>
  Array.from({ length: replicas }, (_, i) => `${template}-${set}-${i}`);

/**
 * kwok's Stage playing the CSI driver's external-attacher for the lab's volumes: a VolumeAttachment of
 * the lab's driver that is not yet attached (and not being deleted) gets `status.attached: true`.
 */
export const kwokVolumeAttachStage = {
  apiVersion: 'kwok.x-k8s.io/v1alpha1',
  kind: 'Stage',
  metadata: { name: 'lab-volume-attach' },
  spec: {
    resourceRef: { apiGroup: 'storage.k8s.io/v1', kind: 'VolumeAttachment' },
    selector: {
      matchExpressions: [
        { key: '.spec.attacher', operator: 'In', values: [labCsiDriver] },
        { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
        { key: '.status.attached', operator: 'NotIn', values: ['true'] },
      ],
    },
    next: { patches: [{ subresource: 'status', root: 'status', template: 'attached: true' }] },
  },
} as const;
