/** Maven coordinates from a jar's central directory, within bounds. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCoordinates, mavenCoordinates, parseProperties } from '../../src/push/jar.js';
import { makeJar, makeZip } from '../helpers/zip.js';

const FOO = makeJar({ groupId: 'com.acme', artifactId: 'foo', version: '1.0' });
const BAR = makeJar();

describe('Maven coordinates from a jar', () => {
  it('reads a deflated pom.properties', () => {
    assert.equal(formatCoordinates(mavenCoordinates(FOO)!), 'com.acme:foo:1.0');
  });

  it('reads a stored pom.properties', () => {
    const jar = makeZip([{ name: 'META-INF/maven/org.x/y/pom.properties', data: 'groupId=org.x\nartifactId=y\nversion=2.1\n' }]);
    assert.equal(formatCoordinates(mavenCoordinates(jar)!), 'org.x:y:2.1');
  });

  it("takes the shaded jar's own coordinates by file name, else none", () => {
    const shaded = makeJar({ groupId: 'com.acme', artifactId: 'app', version: '3.0' }, [
      { name: 'META-INF/maven/org.dep/lib/pom.properties', data: 'groupId=org.dep\nartifactId=lib\nversion=9\n' },
    ]);
    assert.equal(formatCoordinates(mavenCoordinates(shaded, 'app-3.0-shaded.jar')!), 'com.acme:app:3.0');
    assert.equal(mavenCoordinates(shaded, 'other.jar'), undefined);
  });

  const unreadable: Array<[string, Buffer]> = [
    ['no pom.properties', BAR],
    ['not a zip', Buffer.from('just text, long enough to look for an end record')],
    ['empty', Buffer.alloc(0)],
    ['truncated', FOO.subarray(0, FOO.length - 10)],
    ['incomplete properties', makeZip([{ name: 'META-INF/maven/a/b/pom.properties', data: 'groupId=a\n' }])],
  ];
  for (const [name, bytes] of unreadable) {
    it(`gives none for a jar with ${name}`, () => assert.equal(mavenCoordinates(bytes), undefined));
  }

  it('does not inflate past its bound (a pom.properties that lies about its size, a deflate bomb)', () => {
    const bomb = makeZip([{ name: 'META-INF/maven/a/b/pom.properties', data: Buffer.alloc(1024 * 1024, 0x41), deflate: true }]);
    assert.equal(mavenCoordinates(bomb), undefined);
    // Patch the central directory's uncompressed size to a small lie: inflate still stops at the bound.
    const lying = Buffer.from(bomb);
    const central = lying.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    lying.writeUInt32LE(100, central + 24);
    assert.equal(mavenCoordinates(lying), undefined);
  });

  it('parses properties with comments and separators', () => {
    assert.deepEqual(
      [...parseProperties('# c\n! c\na=1\nb : 2\r\nc 3\n')],
      [
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
      ],
    );
  });
});
