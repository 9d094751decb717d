"""mailboxes: OAuth2 login (provider, client id, token URL, scope; client secret and refresh token
encrypted) beside the password, which becomes optional; IMAP STARTTLS; TLS verification settings

Revision ID: 0003h4
Revises: 0002a
"""
from alembic import op
import sqlalchemy as sa

revision = '0003h4'
down_revision = '0002a'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('mailboxes', sa.Column('auth_type', sa.String(length=10), server_default='password',
                                         nullable=False))
    op.add_column('mailboxes', sa.Column('oauth2_provider', sa.String(length=20), nullable=True))
    op.add_column('mailboxes', sa.Column('oauth2_client_id', sa.String(length=500), nullable=True))
    op.add_column('mailboxes', sa.Column('oauth2_token_url', sa.String(length=2000), nullable=True))
    op.add_column('mailboxes', sa.Column('oauth2_scope', sa.String(length=1000), nullable=True))
    op.add_column('mailboxes', sa.Column('oauth2_encrypted', sa.LargeBinary(), nullable=True))
    op.add_column('mailboxes', sa.Column('imap_starttls', sa.Boolean(), server_default=sa.text('false'),
                                         nullable=False))
    op.add_column('mailboxes', sa.Column('tls_verify', sa.Boolean(), server_default=sa.text('true'),
                                         nullable=False))
    op.add_column('mailboxes', sa.Column('tls_ca_pem', sa.Text(), nullable=True))
    op.alter_column('mailboxes', 'password_encrypted', existing_type=sa.LargeBinary(), nullable=True)
    op.create_check_constraint(op.f('ck_mailboxes_auth_type_known'), 'mailboxes',
                               "auth_type IN ('password', 'oauth2')")
    op.create_check_constraint(op.f('ck_mailboxes_auth_secret_present'), 'mailboxes',
                               "(auth_type = 'password' AND password_encrypted IS NOT NULL) OR "
                               "(auth_type = 'oauth2' AND oauth2_encrypted IS NOT NULL "
                               "AND oauth2_token_url IS NOT NULL AND oauth2_client_id IS NOT NULL)")


def downgrade():
    op.drop_constraint(op.f('ck_mailboxes_auth_secret_present'), 'mailboxes', type_='check')
    op.drop_constraint(op.f('ck_mailboxes_auth_type_known'), 'mailboxes', type_='check')
    op.execute("DELETE FROM mailboxes WHERE password_encrypted IS NULL")
    op.alter_column('mailboxes', 'password_encrypted', existing_type=sa.LargeBinary(), nullable=False)
    for column in ('tls_ca_pem', 'tls_verify', 'imap_starttls', 'oauth2_encrypted', 'oauth2_scope',
                   'oauth2_token_url', 'oauth2_client_id', 'oauth2_provider', 'auth_type'):
        op.drop_column('mailboxes', column)
