-- 015: a permanent small number per account, so sync DAGs can work in shards of accounts.
--
-- Sync DAGs map over shards, not accounts (instagram_graph.shards): shard k of size C holds
-- the enabled accounts with ordinal in [k*C, (k+1)*C). An ordinal never changes, so an
-- account stays in its shard as other accounts come and go; a new account takes the
-- smallest free ordinal (the first task of each sync DAG hands them out).

ALTER TABLE instagram.accounts ADD COLUMN ordinal integer UNIQUE CHECK (ordinal >= 0);
COMMENT ON COLUMN instagram.accounts.ordinal IS
    'Permanent number of the account (0, 1, 2...; a new account takes the smallest free one). '
    'Sync shards are ranges of ordinals. NULL until the first sync DAG run after the account was added.';

UPDATE instagram.accounts a
   SET ordinal = numbered.n
  FROM (SELECT account_id, row_number() OVER (ORDER BY created_at, account_id) - 1 AS n
          FROM instagram.accounts) numbered
 WHERE numbered.account_id = a.account_id;
