/**
 * Loads nest-heartbeat, and the Nest it is built on, from a checkout given by path, so one
 * benchmark process script can run the library before a change (another worktree) or after it
 * (this one). Everything comes from that checkout's own node_modules: Nest's injector, the
 * decorators' metadata and the library must be one copy, or DI breaks. Decorators are therefore
 * applied as functions, not with `@` syntax on imports from this tree.
 *
 * Run such a process with its cwd at the checkout, so tsx compiles its sources with its tsconfig.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Library {
  root: string;
  common: typeof import('@nestjs/common');
  core: typeof import('@nestjs/core');
  microservices: typeof import('@nestjs/microservices');
  /** The package root (src/index.ts). */
  lib: typeof import('../../src/index.js');
  /** The internal peer table class (its injection token), for the table's size. */
  PeerTable: abstract new (...args: never[]) => unknown;
}

export async function loadLibrary(root: string): Promise<Library> {
  const url = (path: string) => pathToFileURL(join(root, path)).href;
  await import(url('node_modules/reflect-metadata/Reflect.js'));
  const [common, core, microservices, lib, table] = await Promise.all([
    import(url('node_modules/@nestjs/common/index.js')),
    import(url('node_modules/@nestjs/core/index.js')),
    import(url('node_modules/@nestjs/microservices/index.js')),
    import(url('src/index.js')),
    import(url('src/presence/peer-table.js')),
  ]);
  return { root, common, core, microservices, lib, PeerTable: table.PeerTable };
}

/** `@Module(meta) class {}` without decorator syntax. */
export function defineModule(library: Library, name: string, metadata: Parameters<Library['common']['Module']>[0]): new () => object {
  const cls = { [name]: class {} }[name];
  library.common.Module(metadata)(cls);
  return cls;
}

/** A controller whose `echo` method answers `@MessagePattern('echo')` with its input. */
export function echoController(library: Library): new () => object {
  class EchoController {
    echo(data: unknown) {
      return data;
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(EchoController.prototype, 'echo')!;
  library.microservices.MessagePattern('echo')(EchoController.prototype, 'echo', descriptor);
  library.common.Controller()(EchoController);
  return EchoController;
}
