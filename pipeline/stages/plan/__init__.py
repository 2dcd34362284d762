"""Plan: valid rows become Tango line items with deterministic IDs, grouped into batches.

A line item's ``externalRefLineItemID`` is the row's Reference cell when given, otherwise a hash
of what the reward is (customer, account, campaign, recipient identity, utid, amount, quantity,
delivery method) and of its occurrence number among identical rows of the upload. So the same
row gets the same ID in a re-uploaded or partly fixed sheet, whatever the file is called, and a
corrected row gets a new one.

The account a row orders from (its Account cell, else the campaign's ``accountIdentifier``) is
not part of that hash: the campaign's default account is, as it always was, so a row whose Account
cell is corrected after it was ordered keeps its ID and is not ordered twice.

A batch holds the lines of one account only; its ``externalRefID`` is a hash of its order-level
fields (its ``accountIdentifier`` among them), its members and its attempt generation: a batch
resent after an unknown outcome replays the same ID (Tango then answers with the existing order
instead of creating a second one); a batch sent again after a definite failure gets generation + 1,
hence a new ID.
"""

from pipeline.stages.plan.batches import OWN_ORDER, Batch, BatchPlan, batch_ref, member_key, order_fields, plan_batches
from pipeline.stages.plan.items import LineItem, line_item_ids, line_items
from pipeline.stages.plan.lines import Lines, RowIds, id_column

__all__ = [
           "OWN_ORDER",
           "Batch",
           "BatchPlan",
           "LineItem",
           "Lines",
           "RowIds",
           "batch_ref",
           "id_column",
           "line_item_ids",
           "line_items",
           "member_key",
           "order_fields",
           "plan_batches",
]
