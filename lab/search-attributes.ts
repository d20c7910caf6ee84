// Lifeboat's search attributes on a Temporal server the lab runs: the dev server is started with them
// (--search-attribute), but one already running from before an attribute was added is given the missing
// ones here, so a warm lab never needs a restart (and never loses its history) to catch up.
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { lifeboatSearchAttributes } from '../model/search-attributes.js';

/** gRPC status code UNIMPLEMENTED. */
const grpcUnimplemented = 12;

const { IndexedValueType } = proto.temporal.api.enums.v1;
const indexedValueType = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  Double: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
} as const;

/** Registers whichever of Lifeboat's search attributes `namespace` lacks; returns their names. */
export async function registerSearchAttributes(connection: Pick<Connection, 'operatorService'>, namespace: string): Promise<string[]> {
  // The time-skipping test server cannot list them (UNIMPLEMENTED) but adds them: all are missing there.
  const registered = await connection.operatorService.listSearchAttributes({ namespace }).then(
    ({ customAttributes }) => customAttributes ?? {},
    (err: { code?: number }) => {
      if (err.code === grpcUnimplemented) return {};
      throw err;
    },
  );
  const missing = lifeboatSearchAttributes.filter((a) => !(a.name in registered));
  if (missing.length)
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((a) => [a.name, indexedValueType[a.type]])),
    });
  return missing.map((a) => a.name);
}

/** {@link registerSearchAttributes} on the server at `address`. */
export async function ensureSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    return await registerSearchAttributes(connection, namespace);
  } finally {
    await connection.close();
  }
}
