/** Media types and annotation keys camel-oci reads. */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/**
 * Accept header for every manifest request. distribution answers 404 MANIFEST_UNKNOWN for an OCI
 * manifest when the OCI types are missing from Accept (by tag and by digest alike).
 */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');

export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const OCI_LAYER_TAR_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_LAYER_TAR_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Layer annotation: the layer is a Java dependency (value: a name such as `com.acme:foo:1.0`). */
export const ANNOTATION_DEPENDENCY = 'camel.apache.org.dependency';
/** Layer annotation: the layer is a Kamelet repository (value: its name). */
export const ANNOTATION_KAMELETS = 'camel.apache.org.kamelets.repository';
/** Standard OCI title annotation (what `oras push` sets to the file name). */
export const ANNOTATION_TITLE = 'org.opencontainers.image.title';

/** True for the two manifest list types (OCI index, Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

/** True for the two single-image manifest types. */
export function isManifestMediaType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

// What `camel-oci push` writes.
/** The OCI image config type: push writes a real image config so the artifact is also an image. */
export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** `artifactType` of the artifacts `camel-oci push` makes. */
export const CAMEL_OCI_ARTIFACT_TYPE = 'application/vnd.camel-oci.artifact.v1';
/** Standard OCI annotation: when the artifact was made (push sets it only from SOURCE_DATE_EPOCH). */
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
