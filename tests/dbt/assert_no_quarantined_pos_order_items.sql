{{ config(severity='warn', store_failures=true) }}

-- Warns when POS order lines are in quarantine; the lines found are kept in the audit
-- schema (store_failures) for whoever fixes them in the POS.

select
    order_item_id,
    quarantine_rule
from {{ ref('quarantine_pos__order_items') }}
